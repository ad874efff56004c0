/** Every workflow the workers run (the bundle entry point). */
export { chatWorkflow } from './chat';
export { summarizeWorkflow } from './summarize';
export { billingWorkflow } from './billing';
export { toolWorkflow } from './tool';
