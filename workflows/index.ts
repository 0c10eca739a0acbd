export { pingWorkflow } from './ping.workflow.js';
