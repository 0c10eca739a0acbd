// Installs dependencies when they are missing or older than package-lock.json, so a fresh clone
// needs only `npm start` / `npm test`. Plain JS: it runs before anything is installed.
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const installed = path.join(root, 'node_modules', '.package-lock.json');
const lock = path.join(root, 'package-lock.json');

const stale = !fs.existsSync(installed) || (fs.existsSync(lock) && fs.statSync(lock).mtimeMs > fs.statSync(installed).mtimeMs);
if (stale) {
  console.log('Installing dependencies...');
  // `npm install` follows package-lock.json. Not `npm ci`: it refuses the lock because of an optional
  // dependency of vite (napi-windows-process-start-time) that the registry does not serve.
  execSync('npm install --no-audit --no-fund', { cwd: root, stdio: 'inherit' });
}
