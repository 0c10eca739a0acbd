import { condition, defineUpdate, setHandler } from '@temporalio/workflow';

export { itemWorkflow } from '../workflows/item.workflow.js';

/** Baselines for the benchmark: the cost of Temporal itself, with no Quorum logic. */
export const noopUpdate = defineUpdate<number, [number]>('noop');

export async function noopWorkflow(): Promise<void> {}

export async function noopUpdateWorkflow(): Promise<void> {
  let done = false;
  setHandler(noopUpdate, (n) => {
    if (n < 0) done = true;
    return n;
  });
  await condition(() => done);
}
