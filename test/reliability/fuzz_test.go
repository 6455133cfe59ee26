package reliability

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3ftp/s3ftp/auth/api"
	"github.com/s3ftp/s3ftp/storage/s3test"
)

// replyLine is a well-formed FTP reply line: a code and a separator.
var replyLine = regexp.MustCompile(`^[1-5][0-9][0-9][ -]`)

// fuzzGateway starts a gateway for the fuzz targets: user dev (prefix
// dev/) and, in the same bucket, objects of others that must never change.
func fuzzGateway(t testing.TB, extra ...string) (*env, map[string]object) {
	t.Helper()
	e := start(t, s3test.Fake(t), append([]string{"data-timeout: 1s", "idle-timeout: 5s"}, extra...)...)
	ctx := context.Background()
	for key, body := range victims {
		if _, err := e.Direct.PutObject(ctx, &s3.PutObjectInput{Bucket: &e.Bucket, Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	return e, e.outside(t)
}

// outside returns the objects of the bucket outside the env user's prefix.
func (e *env) outside(t testing.TB) map[string]object {
	t.Helper()
	all := e.objects(t)
	maps.DeleteFunc(all, func(k string, _ object) bool { return strings.HasPrefix(k, e.Prefix) })
	return all
}

// FuzzControlLine sends one fuzzed control line (or several, if it holds
// line breaks) to a logged-in session of the real gateway, then NOOP: every
// reply is well formed, the session either answers the NOOP or is closed,
// the gateway keeps accepting sessions, and nothing outside the user's
// prefix changes. Seeds: the FTP commands the gateway adds or parses
// itself (HASH and its algorithms, SITE, OPTS UTF8, charset-decoded names,
// list flags) in testdata/fuzz/FuzzControlLine and below.
func FuzzControlLine(f *testing.F) {
	for _, s := range []string{
		"HASH /a.txt", "OPTS HASH SHA-256", "OPTS HASH MD5", "OPTS HASH CRC32", "OPTS HASH X", "XSHA256 a", "XCRC a 0 10", "MD5 a",
		"SITE CHMOD 755 a", "SITE RMDIR ../x", "SITE MKDIR a/b", "SITE SYMLINK a b", "SITE", "SITE X",
		"OPTS UTF8 ON", "OPTS UTF8 OFF", "MKD caf\xe9", "STOR \x82\xa0.jpg", "LIST -la ..", "NLST -R *", "MLSD -a",
		"REST -1", "REST 99999999999999999999", "ALLO 10 R 5", "MFMT 99999999999999 a", "RNFR a\r\nRNTO ../bob/x",
		"CWD ..\x00/bob", "PORT 1,2,3,4,5", "EPRT |2|::1|1|", "EPSV ALL", "TYPE L 8", "PBSZ 0", "PROT X", "FEAT", "HELP SITE",
	} {
		f.Add(s)
	}
	e, before := fuzzGateway(f)
	f.Fuzz(func(t *testing.T, line string) {
		conn, err := net.DialTimeout("tcp", e.Addr, 10*time.Second)
		if err != nil {
			t.Fatalf("the gateway does not accept a session: %v", err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
		r := bufio.NewReader(conn)
		fmt.Fprintf(conn, "USER %s\r\nPASS %s\r\n%s\r\nNOOP\r\n", e.User, e.Pass, line)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				break // closed by the gateway: allowed (e.g. QUIT, a bad line)
			}
			if !replyLine.MatchString(l) && !strings.HasPrefix(l, " ") {
				t.Fatalf("malformed reply line %q to %q", l, line)
			}
			if strings.HasPrefix(l, "200 ") && strings.Contains(l, "NOOP") || strings.HasPrefix(l, "200 OK") {
				break
			}
			if strings.HasPrefix(l, "221") || strings.HasPrefix(l, "421") {
				break
			}
		}
		if after := e.outside(t); !maps.Equal(before, after) {
			t.Fatalf("%q changed the bucket outside the user's prefix:\nbefore %v\nafter  %v", line, before, after)
		}
	})
}

// FuzzAdminJSON sends fuzzed JSON bodies to every admin API route that
// takes one, with a valid token: no answer is a 5xx, every answer is JSON
// (or empty), and the API keeps answering. Seeds: valid and invalid user
// documents and password changes, here and in testdata/fuzz/FuzzAdminJSON.
func FuzzAdminJSON(f *testing.F) {
	user := `{"name":"u1","bucket":"b","prefix":"u1/","password":"pw-123456789","permissions":["list","upload"]}`
	for _, s := range []string{
		user, `{}`, `[]`, `null`, `"x"`, `{"name":"../x","bucket":"b"}`, `{"name":"u1","bucket":"b","prefix":"/../"}`,
		`{"name":"u1","bucket":"b","unknown":1}`, `{"name":"u1","name":"u2","bucket":"b"}`, `{"name":1e999}`,
		`{"password":"x"}`, `{"password":""}`, `{"permissions":["all","x"]}`, `{"allowed_networks":["10.0.0.0/99"]}`,
		`{"enabled":"yes"}`, user + user, `{"name":"` + strings.Repeat("a", 5000) + `"}`, "\xff\xfe{}", `{"a":` + strings.Repeat("[", 10000),
	} {
		for route := range 4 {
			f.Add(uint8(route), s)
		}
	}
	token := "fuzz-" + randomHex(12)
	e, _ := fuzzGateway(f, "api-token-hashes: ["+api.HashToken(token)+"]")
	client := &http.Client{Timeout: 30 * time.Second}
	routes := []struct{ method, path string }{
		{"POST", "/api/v1/users"}, {"PUT", "/api/v1/users/u1"}, {"PATCH", "/api/v1/users/u1"}, {"POST", "/api/v1/users/u1/password"},
	}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		rt := routes[int(route)%len(routes)]
		req, err := http.NewRequest(rt.method, e.APIURL+rt.path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", rt.method, rt.path, err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s %q: %d %s", rt.method, rt.path, body, resp.StatusCode, got)
		}
		if len(got) > 0 && !json.Valid(got) {
			t.Fatalf("%s %s %q: %d with a body that is not JSON: %q", rt.method, rt.path, body, resp.StatusCode, got)
		}
	})
}
