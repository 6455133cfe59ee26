package storage

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// TestAmbiguous pins which commit failures are checked with HeadObject:
// those that leave open whether S3 applied the request, not its refusals.
func TestAmbiguous(t *testing.T) {
	status := func(code int) error {
		return &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}},
			Err:      errors.New("answer"),
		}
	}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"timeout", fmt.Errorf("put: %w", context.DeadlineExceeded), true},
		{"500 InternalError", status(500), true},
		{"502 bad gateway", status(502), true},
		{"504 gateway timeout", status(504), true},
		{"NoSuchUpload on a retry", &smithy.GenericAPIError{Code: "NoSuchUpload"}, true},
		{"503 SlowDown", status(503), false},
		{"501 NotImplemented", status(501), false},
		{"403 AccessDenied", status(403), false},
		{"400 InvalidArgument", status(400), false},
	} {
		if got := ambiguous(c.err); got != c.want {
			t.Errorf("%s: ambiguous = %v, want %v", c.name, got, c.want)
		}
	}
}
