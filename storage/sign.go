package storage

import (
	"context"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// withPayloadHash returns the option of one upload request whose body's
// SHA-256 is already known (sum, in hex, computed by the writer as the data
// streamed): SigV4 signs the request with it instead of the SDK reading the
// body through SHA-256 a second time. Over TLS it changes nothing: there the
// SDK signs UNSIGNED-PAYLOAD for PutObject and UploadPart (TLS protects the
// body), or a trailing checksum.
func withPayloadHash(sum string) func(*s3.Options) {
	return func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			// Right after the endpoint is resolved, before the checksum and
			// payload-hash middlewares, which keep a hash already set.
			return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("s3ftpPayloadHash",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					if req, ok := in.Request.(*smithyhttp.Request); ok && !req.IsHTTPS() {
						ctx = v4.SetPayloadHash(ctx, sum)
					}
					return next.HandleFinalize(ctx, in)
				}), "ResolveEndpointV2", middleware.After)
		})
	}
}
