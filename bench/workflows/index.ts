/** The experiment workers' bundle: every product workflow plus the bench variants. */
export * from '../../workflows';
export * from './variants';
