// A corrected io.grpc.InternalStatus for the Pub/Sub emulator's bundled gRPC.
//
// The emulator jar (cloud-pubsub-emulator 0.8.20, Google Cloud SDK 528) packs a grpc-netty
// that calls InternalStatus.asRuntimeException(Status, Metadata, boolean) beside a grpc-api
// too old to have it. The call is made whenever a client cancels a stream — every streaming
// pull that closes — and the NoSuchMethodError it throws leaves the subscription broken: every
// later pull on it fails. deploy/local/pubsub-emulator.sh compiles this class and puts it ahead
// of the jar on the class path when the jar's own InternalStatus lacks the method, so a worker
// that stops, or a stream that reconnects, behaves on the emulator as it does on Pub/Sub.
//
// It keeps the jar's existing members and adds the missing one, with grpc-java's meaning: a
// StatusRuntimeException, with or without its stack trace.
package io.grpc;

public final class InternalStatus {
  private InternalStatus() {}

  public static final Metadata.Key<String> MESSAGE_KEY = Status.MESSAGE_KEY;
  public static final Metadata.Key<Status> CODE_KEY = Status.CODE_KEY;

  public static StatusRuntimeException asRuntimeExceptionWithoutStacktrace(
      Status status, Metadata trailers) {
    return new InternalStatusRuntimeException(status, trailers);
  }

  public static StatusRuntimeException asRuntimeException(
      Status status, Metadata trailers, boolean fillInStackTrace) {
    return fillInStackTrace
        ? new StatusRuntimeException(status, trailers)
        : new InternalStatusRuntimeException(status, trailers);
  }
}
