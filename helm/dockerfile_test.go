package helm_test

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestDockerfileMatchesChart checks what the chart assumes of the image
// built from ../Dockerfile (no Docker engine runs in CI to build it): a
// static binary, the user the pod runs as, the entrypoint the chart's args
// follow and the ports it declares.
func TestDockerfileMatchesChart(t *testing.T) {
	raw, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var from, user, expose []string
	var build, entrypoint string
	for line := range strings.SplitSeq(string(raw), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "FROM":
			from = append(from, fields[1])
		case "USER":
			user = strings.Split(fields[1], ":")
		case "EXPOSE":
			expose = fields[1:]
		case "ENTRYPOINT":
			entrypoint = strings.Join(fields[1:], " ")
		case "RUN":
			if strings.Contains(line, "go build") {
				build = line
			}
		}
	}
	if len(from) != 2 || !strings.HasPrefix(from[1], "gcr.io/distroless/static") {
		t.Errorf("FROM %v: want a build stage and a distroless static (no shell) final stage", from)
	}
	if !strings.Contains(build, "CGO_ENABLED=0") {
		t.Errorf("the go build line %q does not disable cgo (static binary)", build)
	}
	if entrypoint != `["/usr/local/bin/s3ftp"]` {
		t.Errorf("ENTRYPOINT %s: the chart passes `serve --config FILE` as args to /usr/local/bin/s3ftp", entrypoint)
	}

	m := render(t, "-f", "ci/default-values.yaml")
	d, c := m.gateway(t)
	if len(c.Command) != 0 {
		t.Errorf("the chart overrides the image's entrypoint with %v", c.Command)
	}
	psc := d.Template.Spec.SecurityContext
	if len(user) != 2 || psc.RunAsUser == nil || psc.RunAsGroup == nil ||
		user[0] != strconv.FormatInt(*psc.RunAsUser, 10) || user[1] != strconv.FormatInt(*psc.RunAsGroup, 10) {
		t.Errorf("Dockerfile USER %v, pod runs as %v:%v", user, psc.RunAsUser, psc.RunAsGroup)
	}
	for _, name := range []string{"ftp", "http"} {
		if p := strconv.Itoa(int(containerPort(c, name))); !slices.Contains(expose, p) {
			t.Errorf("Dockerfile EXPOSE %v lacks the %s port %s", expose, name, p)
		}
	}
}
