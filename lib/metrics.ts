/**
 * Prometheus metrics (SPEC.md "P3"). One registry per process; labels never carry
 * user, session or request ids.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';

export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });
