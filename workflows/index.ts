export { pingWorkflow } from './ping.workflow.js';
export { itemWorkflow } from './item.workflow.js';
