// S3Server
