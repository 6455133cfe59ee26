package ftpserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/spf13/afero"
)

// thrown if listing with a filePath isn't supported (MLSD, NLST)
var errFileList = errors.New("listing a file isn't allowed")

// the order matter, put parameters with more characters first
var supportedlistArgs = []string{"-al", "-la", "-a", "-l"} //nolint:gochecknoglobals

func (c *clientHandler) absPath(p string) string {
	if path.IsAbs(p) {
		return path.Clean(p)
	}

	return path.Join(c.Path(), p)
}

// getRelativePath returns the specified path as relative to the
// current working directory. The specified path must be cleaned
func (c *clientHandler) getRelativePath(inputPath string) string {
	var builder strings.Builder
	base := c.Path()

	for {
		if base == inputPath {
			return builder.String()
		}

		if !strings.HasSuffix(base, "/") {
			base += "/"
		}

		if strings.HasPrefix(inputPath, base) {
			builder.WriteString(strings.TrimPrefix(inputPath, base))

			return builder.String()
		}

		if base == "/" || base == "./" {
			return inputPath
		}

		builder.WriteString("../")

		base = path.Dir(path.Clean(base))
	}
}

func (c *clientHandler) handleCWD(param string) error {
	pathAbsolute := c.absPath(param)

	// s3ftp patch: one reply path, the driver's Chdir when it has one (upstream: Stat here)
	if err := c.changeDir(pathAbsolute); err != nil {
		// s3ftp patch: name the directory, as the other replies do (upstream: "CD issue: <err>")
		c.writeMessage(transientCode(err, StatusActionNotTaken), fmt.Sprintf("Can't change directory to %s: %s", pathAbsolute, replyText(err))) // s3ftp patch: 451 for a transient error
	} else {
		c.SetPath(pathAbsolute)
		c.writeMessage(StatusFileOK, "CD worked on "+pathAbsolute)
	}

	return nil
}

// errNotADirectory answers a CWD to a file.
var errNotADirectory = errors.New("Not a Directory") //nolint:revive,stylecheck // upstream's reply text

// changeDir returns nil if the client may enter the directory at p: the
// driver's Chdir when it implements ClientDriverExtensionChdir, else a Stat
// that finds a directory. s3ftp patch.
func (c *clientHandler) changeDir(p string) error {
	if chdir, ok := c.driver.(ClientDriverExtensionChdir); ok {
		return chdir.Chdir(p) //nolint:wrapcheck // the driver's own error
	}

	stat, err := c.driver.Stat(p)
	if err == nil && !stat.IsDir() {
		return errNotADirectory
	}

	return err //nolint:wrapcheck // the driver's own error
}

func (c *clientHandler) handleMKD(param string) error {
	pathAbsolute := c.absPath(param)
	if err := c.driver.Mkdir(pathAbsolute, 0o755); err == nil {
		// handleMKD confirms to "quote-doubling"
		// https://tools.ietf.org/html/rfc959 , page 63
		c.writeMessage(StatusPathCreated, fmt.Sprintf(`Created dir "%s"`, quoteDoubling(pathAbsolute)))
	} else {
		c.writeMessage(transientCode(err, StatusActionNotTaken), fmt.Sprintf(`Could not create "%s" : %v`, quoteDoubling(pathAbsolute), err)) // s3ftp patch: 451 for a transient error
	}

	return nil
}

func (c *clientHandler) handleMKDIR(params string) {
	if params == "" {
		c.writeMessage(StatusSyntaxErrorNotRecognised, "Missing path")

		return
	}

	p := c.absPath(params)

	if err := c.driver.MkdirAll(p, 0o755); err == nil {
		c.writeMessage(StatusFileOK, "Created dir "+p)
	} else {
		c.writeMessage(transientCode(err, StatusActionNotTaken), fmt.Sprintf("Couldn't create dir %s: %v", p, err)) // s3ftp patch: 451 for a transient error
	}
}

func (c *clientHandler) handleRMD(param string) error {
	var err error

	pathAbsolute := c.absPath(param)

	if rmd, ok := c.driver.(ClientDriverExtensionRemoveDir); ok {
		err = rmd.RemoveDir(pathAbsolute)
	} else {
		err = c.driver.Remove(pathAbsolute)
	}

	if err == nil {
		c.writeMessage(StatusFileOK, "Deleted dir "+pathAbsolute)
	} else {
		c.writeMessage(transientCode(err, StatusActionNotTaken), fmt.Sprintf("Could not delete dir %s: %v", pathAbsolute, err)) // s3ftp patch: 451 for a transient error
	}

	return nil
}

func (c *clientHandler) handleRMDIR(params string) {
	if params == "" {
		c.writeMessage(StatusSyntaxErrorNotRecognised, "Missing path")

		return
	}

	p := c.absPath(params)

	if err := c.driver.RemoveAll(p); err == nil {
		c.writeMessage(StatusFileOK, "Removed dir "+p)
	} else {
		c.writeMessage(transientCode(err, StatusActionNotTaken), fmt.Sprintf("Couldn't remove dir %s: %v", p, err)) // s3ftp patch: 451 for a transient error
	}
}

func (c *clientHandler) handleCDUP(_ string) error {
	parent, _ := path.Split(c.Path())
	if parent != "/" && strings.HasSuffix(parent, "/") {
		parent = parent[0 : len(parent)-1]
	}

	if _, err := c.driver.Stat(parent); err == nil {
		c.SetPath(parent)
		c.writeMessage(StatusFileOK, "CDUP worked on "+parent)
	} else {
		c.writeMessage(transientCode(err, StatusActionNotTaken), fmt.Sprintf("CDUP issue: %v", err)) // s3ftp patch: 451 for a transient error
	}

	return nil
}

func (c *clientHandler) handlePWD(_ string) error {
	c.writeMessage(StatusPathCreated, fmt.Sprintf(`"%s" is the current directory`, quoteDoubling(c.Path())))

	return nil
}

func (c *clientHandler) checkLISTArgs(args string) string {
	result := args
	param := strings.ToLower(args)

	for _, arg := range supportedlistArgs {
		if strings.HasPrefix(param, arg) {
			params := strings.SplitN(args, " ", 2)
			// s3ftp patch: with LISTArgsAlwaysOptions, a first word that is exactly an
			// option ("LIST -la") is one, with no Stat of "-la" (stat'ed once per option
			// it starts with: 4 S3 requests per LIST -la); "LIST ./-la" lists a file
			// so named.
			if !c.server.settings.LISTArgsAlwaysOptions || !slices.Contains(supportedlistArgs, strings.ToLower(params[0])) {
				// a check for a non-existent directory error is more appropriate here
				// but we cannot assume that the driver implementation will return an
				// os.IsNotExist error.
				if _, err := c.driver.Stat(args); err == nil {
					continue
				}
			}

			if len(params) == 1 {
				result = ""
			} else {
				result = params[1]
			}
		}
	}

	return result
}

func (c *clientHandler) handleLIST(param string) error {
	info := fmt.Sprintf("LIST %v", param)

	if files, _, err := c.getFileList(param, true); err == nil || errors.Is(err, io.EOF) {
		defer c.closeLister(files) // s3ftp patch

		if tr, errTr := c.TransferOpen(info); errTr == nil {
			err = c.dirTransferLIST(tr, files)
			c.TransferClose(tr, err)

			return nil
		}
	} else {
		if !c.isCommandAborted() {
			c.writeMessage(StatusFileActionNotTaken, "Could not list: "+replyText(err)) // s3ftp patch
		}
	}

	return nil
}

func (c *clientHandler) handleNLST(param string) error {
	info := fmt.Sprintf("NLST %v", param)

	if files, parentDir, err := c.getFileList(param, true); err == nil || errors.Is(err, io.EOF) {
		defer c.closeLister(files) // s3ftp patch

		if tr, errTrOpen := c.TransferOpen(info); errTrOpen == nil {
			err = c.dirTransferNLST(tr, files, parentDir)
			c.TransferClose(tr, err)

			return nil
		}
	} else {
		if !c.isCommandAborted() {
			c.writeMessage(StatusFileActionNotTaken, "Could not list: "+replyText(err)) // s3ftp patch
		}
	}

	return nil
}

func (c *clientHandler) dirTransferNLST(writer io.Writer, files DirLister, parentDir string) error {
	// Based on RFC 959 NLST is intended to return information that can be used
	// by a program to further process the files automatically.
	// So we return paths relative to the current working directory
	dir := c.getRelativePath(parentDir)

	return writeListing(writer, files, "NLST", func(w io.Writer, file os.FileInfo) error {
		_, err := fmt.Fprintf(w, "%s\r\n", path.Join(dir, file.Name()))

		return err
	})
}

// writeListing writes the entries of files to writer with line, page by
// page, each page's lines buffered and flushed before the next page is
// asked for (s3ftp patch: listings stream with memory bounded by a page).
// A failure of the data connection is answered 426, one of the listing 451.
func writeListing(writer io.Writer, files DirLister, what string, line func(io.Writer, os.FileInfo) error) error {
	conn := &dataConn{w: writer}
	buf := bufio.NewWriterSize(conn, listingBufferSize)
	written := false

	for {
		page, err := files.Next()
		if errors.Is(err, io.EOF) {
			break
		}

		if err != nil {
			return &transferFailure{code: StatusLocalError, err: newDriverError("listing", err)}
		}

		for _, file := range page {
			if err = line(buf, file); err != nil {
				break
			}

			written = true
		}

		if err == nil {
			err = buf.Flush()
		}

		if err != nil {
			return &transferFailure{code: conn.failureCode(), err: newNetworkError("error writing "+what+" entry", err)}
		}
	}

	if written {
		return nil
	}

	if _, err := conn.Write([]byte("")); err != nil {
		return &transferFailure{code: conn.failureCode(), err: newNetworkError("couldn't send "+what+" data", err)}
	}

	return nil
}

// listingBufferSize is the buffer of a listing's lines (s3ftp patch).
const listingBufferSize = 64 << 10

// sliceLister is a listing already read whole, as one page (s3ftp patch).
type sliceLister []os.FileInfo

func (s *sliceLister) Next() ([]os.FileInfo, error) {
	if *s == nil {
		return nil, io.EOF
	}

	page := *s
	*s = nil

	return page, nil
}

func (s *sliceLister) Close() error { return nil }

func (c *clientHandler) closeLister(files DirLister) {
	if files == nil {
		return
	}

	if err := files.Close(); err != nil {
		c.logger.Warn("Couldn't close listing", "err", err)
	}
}

func (c *clientHandler) handleMLSD(param string) error {
	if c.server.settings.DisableMLSD && !c.isCommandAborted() {
		c.writeMessage(StatusSyntaxErrorNotRecognised, "MLSD has been disabled")

		return nil
	}

	info := fmt.Sprintf("MLSD %v", param)

	if files, _, err := c.getFileList(param, false); err == nil || errors.Is(err, io.EOF) {
		defer c.closeLister(files) // s3ftp patch

		if tr, errTr := c.TransferOpen(info); errTr == nil {
			err = c.dirTransferMLSD(tr, files)
			c.TransferClose(tr, err)

			return nil
		}
	} else {
		if !c.isCommandAborted() {
			c.writeMessage(transientCode(err, StatusActionNotTaken), "Could not list: "+replyText(err)) // s3ftp patch
		}
	}

	return nil
}

const (
	dateFormatStatTime      = "Jan _2 15:04"          // LIST date formatting with hour and minute
	dateFormatStatYear      = "Jan _2  2006"          // LIST date formatting with year
	dateFormatStatOldSwitch = time.Hour * 24 * 30 * 6 // 6 months ago
	dateFormatMLSD          = "20060102150405"        // MLSD date formatting
	fakeUser                = "ftp"
	fakeGroup               = "ftp"
)

func (c *clientHandler) fileStat(file os.FileInfo) string {
	modTime := file.ModTime()
	if modTime.IsZero() {
		// s3ftp patch: no date is known (a directory S3 has no marker date
		// for): a listing line needs one, so it shows the listing's time
		modTime = time.Now()
	}

	var dateFormat string

	if c.connectedAt.Sub(modTime) > dateFormatStatOldSwitch {
		dateFormat = dateFormatStatYear
	} else {
		dateFormat = dateFormatStatTime
	}

	return fmt.Sprintf(
		"%s 1 %s %s %12d %s %s",
		file.Mode(),
		fakeUser,
		fakeGroup,
		file.Size(),
		modTime.Format(dateFormat),
		file.Name(),
	)
}

// fclairamb (2018-02-13): #64: Removed extra empty line
func (c *clientHandler) dirTransferLIST(writer io.Writer, files DirLister) error {
	return writeListing(writer, files, "LIST", func(w io.Writer, file os.FileInfo) error {
		_, err := fmt.Fprintf(w, "%s\r\n", c.fileStat(file))

		return err
	})
}

// fclairamb (2018-02-13): #64: Removed extra empty line
func (c *clientHandler) dirTransferMLSD(writer io.Writer, files DirLister) error {
	return writeListing(writer, files, "MLSD", c.writeMLSxEntry)
}

func (c *clientHandler) writeMLSxEntry(writer io.Writer, file os.FileInfo) error {
	var listType string
	if file.IsDir() {
		listType = "dir"
	} else {
		listType = "file"
	}

	// s3ftp patch: a zero ModTime is unknown (a directory S3 has no date
	// for): the Modify fact is left out (RFC 3659, 7.1: a server gives the
	// facts it knows) rather than given as 1970 or 0001
	var modify string
	if modTime := file.ModTime(); !modTime.IsZero() {
		modify = "Modify=" + modTime.UTC().Format(dateFormatMLSD) + ";"
	}

	_, err := fmt.Fprintf(
		writer,
		"Type=%s;Size=%d;%s %s\r\n",
		listType,
		file.Size(),
		modify,
		file.Name(),
	)
	if err != nil {
		err = fmt.Errorf("error writing MLSD entry: %w", err)
	}

	return err
}

// getFileList returns the listing of param (s3ftp patch: as a DirLister,
// the driver's own when it implements ClientDriverExtensionFileLister).
func (c *clientHandler) getFileList(param string, filePathAllowed bool) (DirLister, string, error) {
	if !c.server.settings.DisableLISTArgs {
		param = c.checkLISTArgs(param)
	}
	// directory or filePath
	listPath := c.absPath(param)
	c.SetListPath(listPath)

	// s3ftp patch: a driver listing page by page is asked first; it reads the
	// first page, so a directory costs no Stat. When it fails (no directory
	// there, or any other error) the listing goes on in upstream's order:
	// listPath is Stat'ed, and ListDir asked again for a directory, so
	// every error is answered as before.
	lister, paged := c.driver.(ClientDriverExtensionFileLister)
	if paged {
		if files, err := lister.ListDir(listPath); err == nil {
			return files, c.getListPath(), nil
		}
	}

	// return list of single file if directoryPath points to file and filePathAllowed
	info, err := c.driver.Stat(listPath)
	if err != nil {
		return nil, "", newFileAccessError("couldn't stat", err)
	}

	if !info.IsDir() {
		if filePathAllowed {
			return &sliceLister{info}, path.Dir(c.getListPath()), nil
		}

		return nil, "", errFileList
	}

	if paged { // a directory after all (a driver may recognise it only once Stat'ed)
		files, err := lister.ListDir(listPath)
		if err != nil {
			return nil, "", err
		}

		return files, c.getListPath(), nil
	}

	var files sliceLister

	if fileList, ok := c.driver.(ClientDriverExtensionFileList); ok {
		files, err = fileList.ReadDir(listPath)

		return &files, c.getListPath(), err
	}

	directory, errOpenFile := c.driver.Open(listPath)
	if errOpenFile != nil {
		return nil, "", newFileAccessError("couldn't open directory", errOpenFile)
	}

	defer c.closeDirectory(listPath, directory)

	files, err = directory.Readdir(-1)

	return &files, c.getListPath(), err
}

func (c *clientHandler) closeDirectory(directoryPath string, directory afero.File) {
	if errClose := directory.Close(); errClose != nil {
		c.logger.Error("Couldn't close directory", "err", errClose, "directory", directoryPath)
	}
}

func quoteDoubling(s string) string {
	if !strings.Contains(s, "\"") {
		return s
	}

	return strings.ReplaceAll(s, "\"", `""`)
}
