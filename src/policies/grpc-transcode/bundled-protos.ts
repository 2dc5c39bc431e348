// The google/api and google/rpc protos that transcoding needs, as text. The package ships only
// dist/src and the build is `tsc` alone (no asset copying), so .proto files next to the sources
// would be missing once installed: string constants travel with the compiled code. The field
// numbers are those of Google's public API definitions (they are the wire contract); the text is
// ours. Imports of these names resolve here after the user's include paths (see protos.ts).

const HTTP_PROTO = `syntax = "proto3";
package google.api;

// How the methods of a service are exposed over HTTP/JSON.
message Http {
  repeated HttpRule rules = 1;
  bool fully_decode_reserved_expansion = 2;
}

// One HTTP binding of an RPC method: a verb and a path template, plus which request field (or
// "*" for the whole message) the body carries and which response field the reply body is.
message HttpRule {
  string selector = 1;
  oneof pattern {
    string get = 2;
    string put = 3;
    string post = 4;
    string delete = 5;
    string patch = 6;
    CustomHttpPattern custom = 8;
  }
  string body = 7;
  string response_body = 12;
  repeated HttpRule additional_bindings = 11;
}

// A verb outside the five above (HEAD, OPTIONS, ...).
message CustomHttpPattern {
  string kind = 1;
  string path = 2;
}
`;

const ANNOTATIONS_PROTO = `syntax = "proto3";
package google.api;

import "google/api/http.proto";
import "google/protobuf/descriptor.proto";

// The method option read by transcoders: option (google.api.http) = { get: "/v1/..." };
extend google.protobuf.MethodOptions {
  HttpRule http = 72295728;
}
`;

const STATUS_PROTO = `syntax = "proto3";
package google.rpc;

import "google/protobuf/any.proto";

// The error model of gRPC's rich errors (the grpc-status-details-bin trailer carries one).
message Status {
  int32 code = 1;
  string message = 2;
  repeated google.protobuf.Any details = 3;
}
`;

// A subset of the standard error detail messages, so that details of these types render as JSON
// fields rather than as opaque base64.
const ERROR_DETAILS_PROTO = `syntax = "proto3";
package google.rpc;

import "google/protobuf/duration.proto";

message ErrorInfo {
  string reason = 1;
  string domain = 2;
  map<string, string> metadata = 3;
}

message RetryInfo {
  google.protobuf.Duration retry_delay = 1;
}

message DebugInfo {
  repeated string stack_entries = 1;
  string detail = 2;
}

message QuotaFailure {
  message Violation {
    string subject = 1;
    string description = 2;
  }
  repeated Violation violations = 1;
}

message PreconditionFailure {
  message Violation {
    string type = 1;
    string subject = 2;
    string description = 3;
  }
  repeated Violation violations = 1;
}

message BadRequest {
  message FieldViolation {
    string field = 1;
    string description = 2;
    string reason = 3;
  }
  repeated FieldViolation field_violations = 1;
}

message RequestInfo {
  string request_id = 1;
  string serving_data = 2;
}

message ResourceInfo {
  string resource_type = 1;
  string resource_name = 2;
  string owner = 3;
  string description = 4;
}

message Help {
  message Link {
    string description = 1;
    string url = 2;
  }
  repeated Link links = 1;
}

message LocalizedMessage {
  string locale = 1;
  string message = 2;
}
`;

/** Import name → proto text. */
export const BUNDLED_PROTOS: ReadonlyMap<string, string> = new Map([
  ['google/api/http.proto', HTTP_PROTO],
  ['google/api/annotations.proto', ANNOTATIONS_PROTO],
  ['google/rpc/status.proto', STATUS_PROTO],
  ['google/rpc/error_details.proto', ERROR_DETAILS_PROTO],
]);
