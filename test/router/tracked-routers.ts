import { afterEach } from 'vitest';
import type { ModelRouter } from '../../src/router/model-router.js';

/**
 * Registers an `afterEach` that drains the shadows of, and disposes the pool of, every router the
 * returned `track` was given in that test; `track` returns its router.
 */
export function trackRouters(): (router: ModelRouter) => ModelRouter {
  const routers: ModelRouter[] = [];
  afterEach(async () => {
    for (const router of routers.splice(0)) {
      await router.drainShadows();
      await router.pool.dispose();
    }
  });
  return (router) => {
    routers.push(router);
    return router;
  };
}
