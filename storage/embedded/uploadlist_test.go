package embedded

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestUploadListFix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, method, target string
		status               int
		body                 string
		wantStatus           int
		wantBody             string
	}{
		{"no upload yet", "GET", "/bkt?uploads", 404, "<Error><Code>NoSuchUpload</Code></Error>", 200, "<ListMultipartUploadsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>bkt</Bucket><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>"},
		{"no bucket", "GET", "/bkt?uploads", 404, "<Error><Code>NoSuchBucket</Code></Error>", 404, "<Error><Code>NoSuchBucket</Code></Error>"},
		{"uploads", "GET", "/bkt?uploads", 200, "<ListMultipartUploadsResult/>", 200, "<ListMultipartUploadsResult/>"},
		{"other request", "GET", "/bkt/k", 404, "<Error><Code>NoSuchUpload</Code></Error>", 404, "<Error><Code>NoSuchUpload</Code></Error>"},
	}
	for _, tc := range tests {
		h := withUploadListFix(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Amz-Request-Id", "42")
			w.WriteHeader(tc.status)
			_, _ = io.WriteString(w, tc.body)
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.target, nil))
		body := strings.TrimPrefix(rec.Body.String(), "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
		if rec.Code != tc.wantStatus || body != tc.wantBody || rec.Header().Get("X-Amz-Request-Id") != "42" {
			t.Errorf("%s: %d %q (headers %v), want %d %q", tc.name, rec.Code, body, rec.Header(), tc.wantStatus, tc.wantBody)
		}
	}
}
