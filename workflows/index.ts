/** Every workflow the workers run (the bundle entry point). */
export { chatWorkflow } from './chat';
