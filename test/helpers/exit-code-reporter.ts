import type { Reporter, TestModule } from 'vitest/node';

/**
 * A failed run must exit non-zero. Something in the shutdown of the shared servers (seen when the pg
 * pool and the Temporal dev server are both stopped in the global teardown) ends vitest's process with
 * an explicit exit(0) after vitest has set exit code 1; an 'exit' listener has the last word.
 */
export default class ExitCodeReporter implements Reporter {
  onTestRunEnd(_modules: ReadonlyArray<TestModule>, errors: ReadonlyArray<unknown>, reason: 'passed' | 'interrupted' | 'failed'): void {
    if (reason === 'passed' && errors.length === 0) return;
    process.on('exit', () => {
      process.exitCode = 1;
    });
  }
}
