import type { KubeletOptions } from '../../functions/scrape/kubelet.ts';

/** A kubelet client's options for tests: straight to the node's InternalIP and its status port. */
export const directKubelet = (o: Partial<KubeletOptions> = {}): KubeletOptions => ({
  endpoint: 'resource',
  via: 'direct',
  port: 0,
  useNodeStatusPort: true,
  preferredAddressTypes: ['InternalIP'],
  timeoutMs: 5000,
  maxBytes: 16 << 20,
  ...o,
});
