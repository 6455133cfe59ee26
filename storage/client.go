package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
)

// ChecksumMode says whether uploads carry CRC32 checksums.
//
// aws-sdk-go-v2 computes a CRC32 for every PutObject and UploadPart by default
// and expects the part checksums to be echoed in CompleteMultipartUpload. AWS
// verifies them; some S3-compatible servers mishandle them (versitygw answers
// InvalidPart when parts echo checksums the upload did not announce). With
// ChecksumsRequired the SDK sends checksums only where S3 demands them.
type ChecksumMode string

// The checksum modes.
const (
	// ChecksumsAuto: ChecksumsSupported for AWS (no custom endpoint),
	// ChecksumsRequired for any other S3-compatible endpoint.
	ChecksumsAuto ChecksumMode = "auto"
	// ChecksumsSupported: CRC32 on every upload request, announced on
	// CreateMultipartUpload and echoed on completion (the SDK default).
	ChecksumsSupported ChecksumMode = "when_supported"
	// ChecksumsRequired: checksums only where an operation requires one.
	ChecksumsRequired ChecksumMode = "when_required"
)

// ParseChecksumMode parses one of "auto", "when_supported", "when_required".
func ParseChecksumMode(s string) (ChecksumMode, error) {
	switch m := ChecksumMode(s); m {
	case ChecksumsAuto, ChecksumsSupported, ChecksumsRequired:
		return m, nil
	}
	return "", fmt.Errorf("unknown checksum mode %q (want auto, when_supported or when_required)", s)
}

// resolve returns ChecksumsSupported or ChecksumsRequired for an endpoint.
func (m ChecksumMode) resolve(endpoint string) ChecksumMode {
	if m == ChecksumsSupported || m == ChecksumsRequired {
		return m
	}
	if endpoint == "" {
		return ChecksumsSupported
	}
	return ChecksumsRequired
}

// Apply sets the SDK's checksum behaviour in o for m, which must be
// resolved: the SDK default (when supported) for ChecksumsSupported, only
// where required for ChecksumsRequired.
func (m ChecksumMode) Apply(o *s3.Options) {
	if m == ChecksumsRequired {
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		return
	}
	o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenSupported
	o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenSupported
}

// ClientConfig says how to reach S3.
type ClientConfig struct {
	Endpoint  string       // custom endpoint URL; "" means AWS
	Region    string       // default "us-east-1" when Endpoint is set and no region is configured
	PathStyle bool         // address buckets as endpoint/bucket rather than bucket.endpoint
	AccessKey string       // static credentials; when empty the AWS default chain is used
	SecretKey string       // (env, shared config, web identity/IRSA, ECS, IMDS)
	Checksums ChecksumMode // default ChecksumsAuto
	// ReadTimeout bounds the wait for each read of a response body, so a
	// stalled download fails instead of hanging. Default 2 minutes.
	ReadTimeout time.Duration
	// Logger receives the SDK's own log lines (which otherwise go straight
	// to stderr). Default: discard.
	Logger *slog.Logger
	// Observer, when not nil, is told about every S3 operation (for metrics).
	Observer RequestObserver
}

// RequestObserver is told about every S3 operation the client makes: its
// name (e.g. "PutObject"), how long it took with its retries, and its error
// (nil on success). It must be safe for concurrent use and fast.
type RequestObserver interface {
	S3Request(operation string, d time.Duration, err error)
}

// NewClient builds an S3 client from cfg and returns it with the resolved
// checksum mode, which Settings.Checksums must be given.
//
// The HTTP client is an awshttp.BuildableClient handed to the config loader,
// so that a CA bundle from AWS_CA_BUNDLE or the shared config is still added
// to its transport (a plain *http.Client there makes the loader fail).
func NewClient(ctx context.Context, cfg ClientConfig) (*s3.Client, ChecksumMode, error) {
	mode := cfg.Checksums
	if mode == "" {
		mode = ChecksumsAuto
	}
	if _, err := ParseChecksumMode(string(mode)); err != nil {
		return nil, "", err
	}
	mode = mode.resolve(cfg.Endpoint)
	readTimeout := cfg.ReadTimeout
	if readTimeout <= 0 {
		readTimeout = 2 * time.Minute
	}
	httpClient := awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = 10 * time.Second }).
		WithTransportOptions(func(tr *http.Transport) {
			tr.MaxIdleConnsPerHost = 64
			tr.ResponseHeaderTimeout = time.Minute
			tr.IdleConnTimeout = 90 * time.Second
		}).
		WithReadTimeout(readTimeout)

	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		config.WithLogger(sdkLogger{log.With("component", "aws-sdk")}),
	}
	region := cfg.Region
	if region == "" && cfg.Endpoint != "" {
		region = "us-east-1"
	}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if cfg.AccessKey != "" || cfg.SecretKey != "" {
		if cfg.AccessKey == "" || cfg.SecretKey == "" {
			return nil, "", fmt.Errorf("s3 credentials: access key and secret key must be given together")
		}
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, "", fmt.Errorf("load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		return nil, "", fmt.Errorf("no S3 region: set one (or AWS_REGION) for AWS")
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		if cfg.Observer != nil {
			o.APIOptions = append(o.APIOptions, observeRequests(cfg.Observer))
		}
		// A multipart object has no whole-object checksum to validate: that
		// is expected, not worth a warning on every download.
		o.DisableLogOutputChecksumValidationSkipped = true
		mode.Apply(o)
	})
	return client, mode, nil
}

// sdkLogger passes the SDK's log lines to slog.
type sdkLogger struct{ log *slog.Logger }

func (l sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	level := slog.LevelDebug
	if c == logging.Warn {
		level = slog.LevelWarn
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(format, v...))
}

// observeRequests returns an SDK stack option that times each operation,
// retries included, for obs.
func observeRequests(obs RequestObserver) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("s3ftpObserve",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				start := time.Now()
				out, md, err := next.HandleInitialize(ctx, in)
				obs.S3Request(awsmiddleware.GetOperationName(ctx), time.Since(start), err)
				return out, md, err
			}), middleware.Before)
	}
}

// ErrorCode names the kind of an S3 operation's error for metrics: the S3
// error code ("NoSuchKey", "SlowDown"...), "canceled", "timeout" or
// "network"; "" for nil.
func ErrorCode(err error) string {
	var apiErr smithy.APIError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &apiErr):
		return apiErr.ErrorCode()
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "network"
}
