export { itemWorkflow } from './item.workflow.js';
