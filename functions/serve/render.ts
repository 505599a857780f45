/**
 * Response bodies from stored items, by concatenation: the scraper pre-renders every list item, so a
 * JSON list is a fixed head, the items joined by commas, and a fixed tail; nothing is parsed or
 * re-serialized. Table and PartialObjectMetadata wrap each item instead (table.ts); protobuf encodes each
 * item and frames the list around them (protobuf.ts).
 */
import { asObject, groupVersion, type MetricsVersion } from '../../shared/metrics-api.ts';
import { type Output, PROTOBUF } from './negotiate.ts';
import { encodeItem, listMessage, objectMessage } from './protobuf.ts';
import type { IncludeObject } from './query.ts';
import { notAcceptableConversion, StatusError } from './status.ts';
import { type MetricsKind, partialObjectMetadata, TABLE_TAIL, tableHead, tableRow } from './table.ts';

/** A list written as text: a head, its items' elements joined by commas, a tail. */
export interface TextListShape {
  format: 'text';
  /** The body up to the first item. */
  head: string;
  /** One element from a stored item; null when the element is the item itself (plain JSON). */
  item: ((text: string) => string) | null;
  tail: string;
}

/** A list written in Kubernetes' protobuf: every item encoded, then framed. */
export interface ProtobufListShape {
  format: 'protobuf';
  kind: MetricsKind;
  version: MetricsVersion;
}

export type ListShape = TextListShape | ProtobufListShape;

/** A response body: JSON text, or protobuf bytes. */
export type Body = string | Uint8Array;

/** Go's %T of the internal objects, as the generic handler names them in its 406 texts. */
const goType = (kind: MetricsKind, list: boolean) => `*metrics.${kind}${list ? 'List' : ''}`;

export function listShape(
  kind: MetricsKind,
  version: MetricsVersion,
  output: Output,
  include: IncludeObject,
): ListShape {
  switch (output.as) {
    case 'json':
      return {
        format: 'text',
        head: `{"kind":"${kind}List","apiVersion":"${groupVersion(version)}","metadata":{},"items":[`,
        item: null,
        tail: ']}',
      };
    case 'protobuf':
      return { format: 'protobuf', kind, version };
    case 'Table':
      return {
        format: 'text',
        head: tableHead(output.version),
        item: (text) => tableRow(kind, text, include, output.version, version),
        tail: TABLE_TAIL,
      };
    case 'PartialObjectMetadataList':
      return {
        format: 'text',
        head: `{"kind":"PartialObjectMetadataList","apiVersion":"meta.k8s.io/${output.version}","metadata":{},"items":[`,
        item: (text) => partialObjectMetadata(text, output.version),
        tail: ']}',
      };
    case 'PartialObjectMetadata':
      throw new StatusError(
        notAcceptableConversion(
          `you requested PartialObjectMetadata, but the requested object is a list (${goType(kind, true)})`,
        ),
      );
  }
}

function notAList(kind: MetricsKind): StatusError {
  return new StatusError(
    notAcceptableConversion(
      `you requested PartialObjectMetadataList, but the requested object is not a list (${goType(kind, false)})`,
    ),
  );
}

/** Checks, before any store read, that a single object can be written as asked. */
export function checkObjectOutput(kind: MetricsKind, output: Output): void {
  if (output.as === 'PartialObjectMetadataList') throw notAList(kind);
}

export function objectBody(
  kind: MetricsKind,
  version: MetricsVersion,
  output: Output,
  include: IncludeObject,
  item: string,
): Body {
  switch (output.as) {
    case 'json':
      return asObject(kind, item, version);
    case 'protobuf':
      return objectMessage(kind, version, item);
    case 'Table':
      return tableHead(output.version) + tableRow(kind, item, include, output.version, version) + TABLE_TAIL;
    case 'PartialObjectMetadata':
      return partialObjectMetadata(item, output.version);
    case 'PartialObjectMetadataList':
      throw notAList(kind);
  }
}

/** A whole list body from the selected items' texts. */
export function listBody(shape: ListShape, items: readonly string[]): Body {
  if (shape.format === 'protobuf')
    return listMessage(
      shape.kind,
      shape.version,
      items.map((t) => encodeItem(shape.kind, t)),
    );
  const render = shape.item;
  const parts = render === null ? items : items.map(render);
  return shape.head + parts.join(',') + shape.tail;
}

export const JSON_HEADERS = {
  'content-type': 'application/json',
  'cache-control': 'no-cache, private',
} as const;

const PROTOBUF_HEADERS = { ...JSON_HEADERS, 'content-type': PROTOBUF } as const;

export function jsonResponse(body: string | ReadableStream<Uint8Array>, status = 200): Response {
  return new Response(body, { status, headers: JSON_HEADERS });
}

/** A resource's answer: JSON text, or protobuf bytes (a stream is written in the request's output). */
export function bodyResponse(body: Body | ReadableStream<Uint8Array>, output: Output): Response {
  const headers = output.as === 'protobuf' ? PROTOBUF_HEADERS : JSON_HEADERS;
  return new Response(body as ConstructorParameters<typeof Response>[0], { status: 200, headers });
}
