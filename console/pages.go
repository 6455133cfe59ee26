package console

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/s3ftp/s3ftp/auth"
)

// Statuses of a user on the fleet page.
const (
	statusActive   = "active"
	statusSilent   = "silent"
	statusDisabled = "disabled"
)

// row is one user on the fleet page.
type row struct {
	Name       string
	Status     string
	Expect     string
	LastUpload *auth.Upload
	Uploads24h int64
	Bytes24h   int64
	LastLogin  *auth.Login
}

// fleetView is the fleet page.
type fleetView struct {
	Rows                []row
	Query, Sort, Status string
	Desc                bool
	Page, Pages, Total  int
	Counts              map[string]int // users by status, over the whole fleet
	Now                 time.Time
}

// sortKeys are the columns the fleet sorts by.
var sortKeys = []string{"name", "status", "last_upload", "uploads"}

// fleet serves GET /console/: every user with its status and activity;
// ?q= filters by name or description, ?status= by status, ?sort= and
// ?desc=1 order, ?page= pages.
func (h *handler) fleet(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx, cancel := requestContext(r)
	defer cancel()
	now := time.Now()
	users, err := h.cfg.Manager.List(ctx, "", 0)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	acts, err := h.cfg.Manager.ListActivity(ctx, "", 0, now)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	q := r.URL.Query()
	v := fleetView{Query: strings.TrimSpace(q.Get("q")), Sort: q.Get("sort"), Status: q.Get("status"),
		Desc: q.Get("desc") == "1", Counts: map[string]int{}, Now: now}
	if !slices.Contains(sortKeys, v.Sort) {
		v.Sort = "name"
	}
	needle := strings.ToLower(v.Query)
	for _, u := range users {
		a := acts[u.Name]
		if a == nil {
			a = &auth.Activity{}
		}
		rw := row{Name: u.Name, Status: userStatus(u, a, now), Expect: auth.FormatExpectUploadEvery(u.ExpectUploadEvery),
			LastUpload: a.LastUpload, Uploads24h: a.Uploads24h, Bytes24h: a.Bytes24h, LastLogin: a.LastLogin}
		v.Counts[rw.Status]++
		if needle != "" && !strings.Contains(u.Name, needle) && !strings.Contains(strings.ToLower(u.Description), needle) {
			continue
		}
		if v.Status != "" && rw.Status != v.Status {
			continue
		}
		v.Rows = append(v.Rows, rw)
	}
	slices.SortStableFunc(v.Rows, func(a, b row) int {
		c := 0
		switch v.Sort {
		case "status":
			c = cmp.Compare(a.Status, b.Status)
		case "last_upload":
			c = cmp.Compare(uploadTime(a), uploadTime(b))
		case "uploads":
			c = cmp.Compare(a.Uploads24h, b.Uploads24h)
		}
		if c == 0 {
			c = strings.Compare(a.Name, b.Name)
		}
		if v.Desc {
			c = -c
		}
		return c
	})
	v.Total = len(v.Rows)
	v.Pages = max(1, (v.Total+h.cfg.PageSize-1)/h.cfg.PageSize)
	v.Page, _ = strconv.Atoi(q.Get("page"))
	v.Page = min(max(v.Page, 1), v.Pages)
	start := (v.Page - 1) * h.cfg.PageSize
	v.Rows = v.Rows[start:min(start+h.cfg.PageSize, v.Total)]
	h.render(w, http.StatusOK, "fleet", page{Title: "Fleet", CSRF: sess.csrf, ReadOnly: sess.readOnly, Flash: q.Get("flash"), Body: v})
}

// userStatus is a user's status on the fleet page.
func userStatus(u *auth.User, a *auth.Activity, now time.Time) string {
	switch {
	case u.Disabled:
		return statusDisabled
	case a.Silent(u, now):
		return statusSilent
	}
	return statusActive
}

// uploadTime orders rows by last upload, never-uploaded first.
func uploadTime(r row) int64 {
	if r.LastUpload == nil {
		return 0
	}
	return r.LastUpload.Time.UnixNano()
}

// userView is a user's page.
type userView struct {
	User     *auth.User
	Activity *auth.Activity
	Status   string
	Form     userForm
	Errors   map[string]string // by field
	Perms    []permBox
	Now      time.Time
}

// permBox is one permission checkbox.
type permBox struct {
	Name    string
	Checked bool
}

// permBoxes returns a checkbox per permission, checked as in perms.
func permBoxes(perms auth.Permissions) []permBox {
	var boxes []permBox
	for _, name := range auth.AllPermissions.Names() {
		p, _ := auth.ParsePermissions([]string{name})
		boxes = append(boxes, permBox{Name: name, Checked: perms.Has(p)})
	}
	return boxes
}

// userPage serves GET /console/users/{name}.
func (h *handler) userPage(w http.ResponseWriter, r *http.Request, sess *session) {
	h.showUser(w, r, sess, http.StatusOK, nil, nil)
}

// showUser renders a user's page; form and errs, when set, are a refused
// edit to show again with its errors next to the fields.
func (h *handler) showUser(w http.ResponseWriter, r *http.Request, sess *session, status int, form *userForm, errs map[string]string) {
	ctx, cancel := requestContext(r)
	defer cancel()
	now := time.Now()
	u, a, err := h.cfg.Manager.Activity(ctx, r.PathValue("name"), now)
	if errors.Is(err, auth.ErrNotFound) || errors.Is(err, auth.ErrInvalid) {
		http.Error(w, "no such user", http.StatusNotFound)
		return
	}
	if err != nil {
		h.internal(w, r, err)
		return
	}
	v := userView{User: u, Activity: a, Status: userStatus(u, a, now), Errors: errs, Now: now}
	if form != nil {
		v.Form = *form
	} else {
		v.Form = formOf(u)
	}
	perms, _ := auth.ParsePermissions(v.Form.Permissions)
	v.Perms = permBoxes(perms)
	h.render(w, status, "user", page{Title: u.Name, CSRF: sess.csrf, ReadOnly: sess.readOnly, Flash: r.URL.Query().Get("flash"), Body: v})
}

// updateUser serves POST /console/users/{name}: the edit form.
func (h *handler) updateUser(w http.ResponseWriter, r *http.Request, sess *session) {
	f := readForm(r)
	p, err := f.patch()
	if err == nil {
		ctx, cancel := requestContext(r)
		defer cancel()
		_, err = h.cfg.Manager.Update(ctx, r.PathValue("name"), p)
	}
	if h.refused(w, r, err, func(errs map[string]string) { h.showUser(w, r, sess, http.StatusBadRequest, &f, errs) }) {
		return
	}
	h.log.Info("console: user changed", "user", r.PathValue("name"))
	redirectFlash(w, r, userURL(r.PathValue("name")), "Saved.")
}

// setPassword serves POST /console/users/{name}/password.
func (h *handler) setPassword(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx, cancel := requestContext(r)
	defer cancel()
	err := h.cfg.Manager.SetPassword(ctx, r.PathValue("name"), r.PostFormValue("password"), "")
	if h.refused(w, r, err, func(errs map[string]string) { h.showUser(w, r, sess, http.StatusBadRequest, nil, errs) }) {
		return
	}
	h.log.Info("console: password set", "user", r.PathValue("name"))
	redirectFlash(w, r, userURL(r.PathValue("name")), "Password set.")
}

// setDisabled serves POST /console/users/{name}/disabled with disabled=1
// or 0.
func (h *handler) setDisabled(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx, cancel := requestContext(r)
	defer cancel()
	disabled := r.PostFormValue("disabled") == "1"
	_, err := h.cfg.Manager.Update(ctx, r.PathValue("name"), auth.UserPatch{Disabled: &disabled})
	if h.refused(w, r, err, func(errs map[string]string) { h.showUser(w, r, sess, http.StatusBadRequest, nil, errs) }) {
		return
	}
	msg := "Enabled."
	if disabled {
		msg = "Disabled: logins are refused."
	}
	h.log.Info("console: user disabled", "user", r.PathValue("name"), "disabled", disabled)
	redirectFlash(w, r, userURL(r.PathValue("name")), msg)
}

// deleteUser serves POST /console/users/{name}/delete; the form's confirm
// field must repeat the name.
func (h *handler) deleteUser(w http.ResponseWriter, r *http.Request, sess *session) {
	name := r.PathValue("name")
	if !strings.EqualFold(strings.TrimSpace(r.PostFormValue("confirm")), name) {
		h.showUser(w, r, sess, http.StatusBadRequest, nil, map[string]string{"confirm": "type the user's name to confirm"})
		return
	}
	ctx, cancel := requestContext(r)
	defer cancel()
	err := h.cfg.Manager.Delete(ctx, name)
	if h.refused(w, r, err, func(errs map[string]string) { h.showUser(w, r, sess, http.StatusBadRequest, nil, errs) }) {
		return
	}
	h.log.Info("console: user deleted", "user", name)
	redirectFlash(w, r, Prefix, "Deleted "+strings.ToLower(name)+" (their files stay in S3).")
}

// newView is the add-user page.
type newView struct {
	Name   string
	Form   userForm
	Errors map[string]string
	Perms  []permBox
}

// newUserPage serves GET /console/new.
func (h *handler) newUserPage(w http.ResponseWriter, r *http.Request, sess *session) {
	h.render(w, http.StatusOK, "new", page{Title: "Add user", CSRF: sess.csrf, ReadOnly: sess.readOnly,
		Body: newView{Perms: permBoxes(auth.PermUpload | auth.PermMkdir | auth.PermList)}})
}

// createUser serves POST /console/new.
func (h *handler) createUser(w http.ResponseWriter, r *http.Request, sess *session) {
	f := readForm(r)
	name := strings.TrimSpace(r.PostFormValue("name"))
	p, err := f.patch()
	if err == nil {
		password := r.PostFormValue("password")
		p.Password = &password
		if f.Prefix == "" {
			p.Prefix = nil // the default, NAME/
		}
		ctx, cancel := requestContext(r)
		defer cancel()
		_, err = h.cfg.Manager.Create(ctx, name, p)
	}
	if h.refused(w, r, err, func(errs map[string]string) {
		perms, _ := auth.ParsePermissions(f.Permissions)
		h.render(w, http.StatusBadRequest, "new", page{Title: "Add user", CSRF: sess.csrf, ReadOnly: sess.readOnly,
			Body: newView{Name: name, Form: f, Errors: errs, Perms: permBoxes(perms)}})
	}) {
		return
	}
	h.log.Info("console: user created", "user", name)
	redirectFlash(w, r, userURL(name), "Created.")
}

// refused handles the error of a change: nil is false (go on); a field
// error or a conflict shows the form again through show, with the message
// next to the field; a missing user is a 404; anything else a 500.
func (h *handler) refused(w http.ResponseWriter, r *http.Request, err error, show func(map[string]string)) bool {
	var fe *auth.FieldError
	switch {
	case err == nil:
		return false
	case errors.As(err, &fe):
		show(map[string]string{fe.Field: fe.Message})
	case errors.Is(err, auth.ErrExists):
		show(map[string]string{"name": "a user with this name already exists"})
	case errors.Is(err, auth.ErrNotFound):
		http.Error(w, "no such user", http.StatusNotFound)
	default:
		h.internal(w, r, err)
	}
	return true
}

// userURL is the page of the user called name.
func userURL(name string) string { return Prefix + "users/" + url.PathEscape(strings.ToLower(name)) }

// redirectFlash sends the browser to target (POST, redirect, GET) with a
// message to show there.
func redirectFlash(w http.ResponseWriter, r *http.Request, target, msg string) {
	http.Redirect(w, r, target+"?flash="+url.QueryEscape(msg), http.StatusSeeOther)
}

// since is "3m ago" for a time.
func since(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// humanBytes is a size for people: 1.5 MB.
func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// timestamp is a time as the console shows it: UTC, to the second.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }
