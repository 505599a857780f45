/**
 * Decodes Kubernetes' protobuf answers with a maintained protobuf library (protobufjs), against message
 * definitions declared here from the field numbers and types of k8s.io/metrics'
 * `pkg/apis/metrics/v1beta1/generated.proto` and k8s.io/apimachinery's `pkg/apis/meta/v1`,
 * `pkg/api/resource` and `pkg/runtime` `generated.proto` (the numbers are facts; the upstream files stay
 * out of the repository). The same messages serve metrics.k8s.io/v1, which graduated unchanged.
 */
import protobuf from 'protobufjs';

const PROTO = `
syntax = "proto2";
package k8s;

message TypeMeta { optional string apiVersion = 1; optional string kind = 2; }
message Unknown {
  optional TypeMeta typeMeta = 1;
  optional bytes raw = 2;
  optional string contentEncoding = 3;
  optional string contentType = 4;
}

message Time { optional int64 seconds = 1; optional int32 nanos = 2; }
message Duration { optional int64 duration = 1; }
message Quantity { optional string string = 1; }
message ObjectMeta {
  optional string name = 1;
  optional string generateName = 2;
  optional string namespace = 3;
  optional string selfLink = 4;
  optional string uid = 5;
  optional string resourceVersion = 6;
  optional int64 generation = 7;
  optional Time creationTimestamp = 8;
  optional Time deletionTimestamp = 9;
  optional int64 deletionGracePeriodSeconds = 10;
  map<string, string> labels = 11;
  map<string, string> annotations = 12;
}
message ListMeta {
  optional string selfLink = 1;
  optional string resourceVersion = 2;
  optional string continue = 3;
  optional int64 remainingItemCount = 4;
}

message ContainerMetrics { optional string name = 1; map<string, Quantity> usage = 2; }
message NodeMetrics {
  optional ObjectMeta metadata = 1;
  optional Time timestamp = 2;
  optional Duration window = 3;
  map<string, Quantity> usage = 4;
}
message NodeMetricsList { optional ListMeta metadata = 1; repeated NodeMetrics items = 2; }
message PodMetrics {
  optional ObjectMeta metadata = 1;
  optional Time timestamp = 2;
  optional Duration window = 3;
  repeated ContainerMetrics containers = 4;
}
message PodMetricsList { optional ListMeta metadata = 1; repeated PodMetrics items = 2; }
`;

const root = protobuf.parse(PROTO, { keepCase: true }).root;
const type = (name: string) => root.lookupType(`k8s.${name}`);

export const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** What a decoded metrics object looks like (int64s as numbers). */
export interface DecodedObject {
  metadata: {
    name: string;
    namespace: string;
    creationTimestamp?: { seconds: number; nanos: number };
    labels: Record<string, string>;
  };
  timestamp: { seconds: number; nanos: number };
  window: { duration: number };
  usage?: Record<string, { string: string }>;
  containers?: { name: string; usage: Record<string, { string: string }> }[];
}

export interface Decoded {
  apiVersion: string;
  kind: string;
  contentEncoding: string;
  contentType: string;
  object: DecodedObject & { items?: DecodedObject[]; metadata: Record<string, unknown> };
}

const AS_OBJECT = { longs: Number, defaults: true, objects: true } as const;

/** The `k8s\0` envelope and the object inside it, decoded by its kind. */
export function decodeK8sProtobuf(body: Uint8Array): Decoded {
  const bytes = Buffer.from(body);
  if (!bytes.subarray(0, 4).equals(MAGIC))
    throw new Error(`no k8s\\0 prefix: ${bytes.subarray(0, 4).toString('hex')}`);
  const unknownType = type('Unknown');
  const unknown = unknownType.toObject(unknownType.decode(bytes.subarray(4)), AS_OBJECT) as {
    typeMeta: { apiVersion: string; kind: string };
    raw: Uint8Array;
    contentEncoding: string;
    contentType: string;
  };
  const kind = unknown.typeMeta.kind;
  const objectType = type(kind);
  return {
    apiVersion: unknown.typeMeta.apiVersion,
    kind,
    contentEncoding: unknown.contentEncoding,
    contentType: unknown.contentType,
    object: objectType.toObject(objectType.decode(unknown.raw), AS_OBJECT) as Decoded['object'],
  };
}
