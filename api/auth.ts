import type { Request } from 'express';
import { DomainError, forbidden } from '../domain/errors.js';
import type { Principal } from '../domain/principals.js';
import type { PrincipalsRepo } from '../infra/repositories/principals.repo.js';

const BEARER = /^Bearer\s+(\S+)\s*$/i;

export function createAuthenticator(principals: PrincipalsRepo) {
  return async (req: Request): Promise<Principal> => {
    const header = req.header('authorization');
    if (!header) throw new DomainError('UNAUTHENTICATED', 'Missing Authorization header: send "Authorization: Bearer <api key>".');
    const match = BEARER.exec(header);
    if (!match) throw new DomainError('UNAUTHENTICATED', 'Malformed Authorization header: expected "Bearer <api key>".');
    const principal = await principals.authenticate(match[1]!);
    if (!principal) throw new DomainError('UNAUTHENTICATED', 'Invalid or revoked API key.');
    return principal;
  };
}

export function requireAdmin(principal: Principal): void {
  if (principal.role !== 'admin') throw forbidden('This action needs the workspace admin role.');
}

export function requireOwner(principal: Principal): void {
  if (!principal.isOwner) throw forbidden('Only the instance owner may create workspaces.');
}
