package kernel

// The C sources live in bpf/ at the top of the repository; the generated
// loaders and objects are committed and rebuilt by `make generate`.
//go:generate go tool bpf2go -cc clang -no-strip=false -cflags "-O2 -g -Wall -Werror" -target amd64 -type event -type grant_key -type grant_value -type file_id -type settings -type zpam_mode -type zpam_event_kind -type zpam_counter -type zpam_via -type setuid_entry -type grant_ref -type grant_state -type scope_key -type zpam_active -type zpam_grant_flag enforce ../../../bpf/enforce.bpf.c -- -I../../../bpf
//go:generate go tool bpf2go -cc clang -no-strip=false -cflags "-O2 -g -Wall -Werror" -target amd64 -type proc_header -type exec_event -type attrib -type tele_settings -type zpam_proc_kind -type zpam_proc_flag -type zpam_tcounter telemetry ../../../bpf/telemetry.bpf.c -- -I../../../bpf
