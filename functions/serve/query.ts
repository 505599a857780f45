/**
 * A list request's query parameters, read as the generic apiserver's ListResource reads them:
 * `labelSelector` and `fieldSelector` (400 with apimachinery's text when they do not parse or name a
 * field other than metadata.name / metadata.namespace), then `watch` (405: there is no watch).
 * `limit`, `continue`, `resourceVersion` and `resourceVersionMatch` are accepted and ignored: lists are
 * never paginated and carry no resourceVersion.
 */

import { memoize } from '../../shared/memo.ts';
import { GROUP } from '../../shared/metrics-api.ts';
import {
  type FieldSelector,
  type LabelSelector,
  parseFieldSelector,
  parseLabelSelector,
  SelectorError,
  validateFieldSelector,
} from '../../shared/selectors/index.ts';
import { goQuote } from '../../shared/selectors/text.ts';
import { badRequest, methodNotSupported, StatusError } from './status.ts';

export type Resource = 'nodes' | 'pods';

/** The fields every metrics.k8s.io list can be selected by (runtime.DefaultMetaV1FieldSelectorConversion). */
export const SELECTABLE_FIELDS = ['metadata.name', 'metadata.namespace'] as const;

export interface ListQuery {
  /** null: every object (no or an empty selector), so labels need not be read at all. */
  labels: LabelSelector | null;
  fields: FieldSelector | null;
}

export type QueryParam = (name: string) => string | undefined;

/** Parsed label selectors by text: the HPA asks the same selector every 15 s per HPA. */
const labelSelector: (text: string) => LabelSelector = memoize(512, parseLabelSelector);

/** `watch` is true unless absent, "0" or "false" (any case), as apimachinery converts a query bool. */
export function wantsWatch(value: string | undefined): boolean {
  return value !== undefined && value !== '0' && value.toLowerCase() !== 'false';
}

export function listQuery(param: QueryParam, resource: Resource): ListQuery {
  let labels: LabelSelector | null = null;
  let fields: FieldSelector | null = null;
  try {
    const l = param('labelSelector');
    if (l) {
      const s = labelSelector(l);
      labels = s.empty ? null : s;
    }
    const f = param('fieldSelector');
    if (f) {
      const s = parseFieldSelector(f);
      validateFieldSelector(s, SELECTABLE_FIELDS);
      fields = s.empty ? null : s;
    }
  } catch (err) {
    if (err instanceof SelectorError) throw new StatusError(badRequest(err.message));
    throw err;
  }
  if (wantsWatch(param('watch'))) throw new StatusError(methodNotSupported(GROUP, resource, 'watch'));
  return { labels, fields };
}

export type IncludeObject = 'Metadata' | 'Object' | 'None';

/** Table's `includeObject` (default Metadata); anything else is metav1beta1 validation's 400. */
export function includeObject(param: QueryParam): IncludeObject {
  const v = param('includeObject') ?? '';
  if (v === '' || v === 'Metadata') return 'Metadata';
  if (v === 'Object' || v === 'None') return v;
  throw new StatusError(
    badRequest(
      `Unable to convert to Table as requested: includeObject: Invalid value: ${goQuote(v)}: must be 'Metadata', 'Object', 'None', or empty`,
    ),
  );
}
