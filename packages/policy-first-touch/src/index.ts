/**
 * first-touch: today's default placement. A page goes to the node of the CPU
 * that first touches it (MPOL_LOCAL / the default mempolicy, mm/mempolicy.c);
 * when that node is below its low watermark the page allocator falls back
 * along the zonelist (mm/page_alloc.c: get_page_from_freelist()). Pages are
 * never migrated; reclaim evicts (no demotion: /sys/kernel/mm/numa/demotion_enabled = false).
 *
 * Every hook but placePage is absent on purpose: the engine's defaults are
 * exactly the kernel's behaviour without tiering.
 */

import { type PolicyFactory, definePolicy } from '@tierlab/memory-tier-api';

export const firstTouch: PolicyFactory<Record<string, never>> = definePolicy({
  name: 'first-touch',
  version: '0.1.0',
  description: "Today's default: allocate on the local node, fall back along the zonelist when full, never migrate",
  knobs: {},
  build: () => ({
    supports: ['placement', 'reclaim'],
    placePage: (_ctx, _page, hint) => hint.localNode,
  }),
});

export default firstTouch;
