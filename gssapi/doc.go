package gssapi
