/**
 * An object's JSON in the three forms clients ask for (the object, PartialObjectMetadata, a Table row),
 * rendered once per version and kept with it (a WeakMap on the object, checked against its
 * resourceVersion), so that a list page, a GET and every watcher of a change share one string.
 */
import type { Kind } from './kinds.ts';
import * as S from './status.ts';

export type Include = 'Object' | 'Metadata' | 'None';

export interface Renderer {
  object<T extends object>(kind: Kind<T>, o: T): string;
  partial<T extends object>(kind: Kind<T>, o: T, apiVersion: string): string;
  tableRow<T extends object>(
    kind: Kind<T>,
    o: T,
    include: Include,
    apiVersion: string,
    nowMs: number,
  ): string;
  /** `"columnDefinitions":…` of a Table: the kind's columns, or null with `noHeaders`. */
  columns<T extends object>(kind: Kind<T>, noHeaders: boolean): string;
}

export function createRenderer(): Renderer {
  const cache = new WeakMap<object, { rv: number; object?: string; metadata?: string }>();
  const cached = <T extends object>(kind: Kind<T>, o: T, which: 'object' | 'metadata'): string => {
    const rv = kind.version(o);
    let entry = cache.get(o);
    if (entry?.rv !== rv) {
      entry = { rv };
      cache.set(o, entry);
    }
    entry[which] ??= JSON.stringify(which === 'object' ? kind.object(o) : kind.metadata(o));
    return entry[which];
  };
  const partial = <T extends object>(kind: Kind<T>, o: T, apiVersion: string) =>
    `{"kind":"PartialObjectMetadata","apiVersion":"${apiVersion}","metadata":${cached(kind, o, 'metadata')}}`;
  const columnsCache = new WeakMap<object, string>();
  return {
    object: (kind, o) => cached(kind, o, 'object'),
    partial,
    tableRow(kind, o, include, apiVersion, nowMs) {
      const object =
        include === 'None'
          ? 'null'
          : include === 'Object'
            ? cached(kind, o, 'object')
            : partial(kind, o, apiVersion);
      return `{"cells":${JSON.stringify(kind.cells(o, nowMs))},"object":${object}}`;
    },
    columns(kind, noHeaders) {
      if (noHeaders) return 'null';
      let text = columnsCache.get(kind.columns);
      if (text === undefined) {
        text = JSON.stringify(kind.columns);
        columnsCache.set(kind.columns, text);
      }
      return text;
    },
  };
}

/** `includeObject` of a Table request. */
export function includeObject(query: URLSearchParams): Include | S.Status {
  const v = query.get('includeObject') ?? 'Metadata';
  if (v === '' || v === 'Metadata') return 'Metadata';
  if (v === 'Object' || v === 'None') return v;
  return S.badRequest(`unrecognized includeObject value: "${v}"`);
}
