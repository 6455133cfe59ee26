package api_test

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/s3ftp/s3ftp/auth/api/apitest"
)

// loadContract loads openapi.yaml, once for the whole run: the Contract
// checks every exchange of every test server (newServer) against the
// document and records which operations and fields the tests used, which
// is a property of the run.
var loadContract = sync.OnceValues(func() (*apitest.Contract, error) {
	doc, err := os.ReadFile("openapi.yaml")
	if err != nil {
		return nil, err
	}
	return apitest.New(apitest.Config{Document: doc, UnroutedSchema: "Error"})
})

// TestOpenAPIValid checks that openapi.yaml is a valid OpenAPI 3 document
// (kin-openapi: structure, references, examples, no unknown keys).
func TestOpenAPIValid(t *testing.T) {
	t.Parallel()
	if _, err := loadContract(); err != nil {
		t.Fatal(err)
	}
}

// TestMain runs the tests and then, if they all ran (no -run or -skip) and
// passed, fails the run if a documented operation or field was used by no
// exchange of any test.
func TestMain(m *testing.M) {
	code := m.Run()
	flag.Parse()
	contract, err := loadContract()
	if code != 0 || err != nil || flag.Lookup("test.run").Value.String() != "" || flag.Lookup("test.skip").Value.String() != "" {
		os.Exit(code)
	}
	missing := contract.Missing()
	fmt.Printf("FIGURE api contract: %d exchanges checked against openapi.yaml; %d documented operations or fields used by none\n",
		contract.Exchanges(), len(missing))
	if len(missing) > 0 {
		fmt.Printf("FAIL: api contract: no test exchange used these documented operations and fields: %s\n", strings.Join(missing, ", "))
		os.Exit(1)
	}
	os.Exit(code)
}
