package backup

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3 is a Target in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2,
// rclone serve s3...), each key an object under the prefix. The client is
// minio-go's; its types stop here.
type S3 struct {
	c      *minio.Client
	bucket string
	prefix string // "" or ending in "/"
	shown  string
}

var _ Target = (*S3)(nil)

// NewS3 returns the target of bucket under prefix. environ gives, as the
// AWS tools read them: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN (without a key id: the instance's IAM role),
// AWS_REGION or AWS_DEFAULT_REGION, and AWS_ENDPOINT_URL_S3 or
// AWS_ENDPOINT_URL for a server other than AWS (http:// or https://;
// buckets are then addressed by path, as MinIO and most others want).
func NewS3(bucket, prefix string, environ []string) (*S3, error) {
	env := func(names ...string) string {
		for _, n := range names {
			for _, kv := range environ {
				if k, v, ok := strings.Cut(kv, "="); ok && k == n && v != "" {
					return v
				}
			}
		}
		return ""
	}
	opts := &minio.Options{Secure: true, Region: env("AWS_REGION", "AWS_DEFAULT_REGION")}
	if id := env("AWS_ACCESS_KEY_ID"); id != "" {
		opts.Creds = credentials.NewStaticV4(id, env("AWS_SECRET_ACCESS_KEY"), env("AWS_SESSION_TOKEN"))
	} else {
		opts.Creds = credentials.NewIAM("")
	}
	endpoint := "s3.amazonaws.com"
	if e := env("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"); e != "" {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("AWS_ENDPOINT_URL %q: want http(s)://host[:port]", e)
		}
		endpoint, opts.Secure, opts.BucketLookup = u.Host, u.Scheme == "https", minio.BucketLookupPath
	}
	c, err := minio.New(endpoint, opts)
	if err != nil {
		return nil, fmt.Errorf("backup target s3://%s: %w", bucket, err)
	}
	if prefix != "" {
		prefix += "/"
	}
	return &S3{c: c, bucket: bucket, prefix: prefix, shown: "s3://" + bucket + "/" + prefix + " at " + endpoint}, nil
}

func (s *S3) String() string { return s.shown }

func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := checkKey(key); err != nil {
		return err
	}
	_, err := s.c.PutObject(ctx, s.bucket, s.prefix+key, r, size,
		// Parts of 16 MiB, one at a time: the client buffers a part of a
		// plain reader, so this bounds an upload's memory.
		minio.PutObjectOptions{ContentType: "application/octet-stream", PartSize: 16 << 20, NumThreads: 1})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	obj, err := s.c.GetObject(ctx, s.bucket, s.prefix+key, minio.GetObjectOptions{})
	if err == nil {
		_, err = obj.Stat() // GetObject is lazy: this is the request
		if err != nil {
			_ = obj.Close()
		}
	}
	if err != nil {
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return nil, fmt.Errorf("get %s: %w", key, ErrNotFound)
		}
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return obj, nil
}

func (s *S3) List(ctx context.Context, prefix string) ([]string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the listing goroutine on an early return
	var keys []string
	for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if o.Err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, o.Err)
		}
		keys = append(keys, strings.TrimPrefix(o.Key, s.prefix))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sort.Strings(keys)
	return keys, nil
}

func (s *S3) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	err := s.c.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != minio.NoSuchKey {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}
