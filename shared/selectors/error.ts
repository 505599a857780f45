/**
 * A label or field selector that Kubernetes would reject. The message is apimachinery's own text, so the
 * serve function can put it unchanged into a 400 `BadRequest` Status, as kube-apiserver and metrics-server do.
 */
export class SelectorError extends Error {
  override name = 'SelectorError';
}
