// Crash-safe file replacement: write to a temp file in the destination's
// directory, fsync it, rename it over the final name, fsync the directory.
//
// Why: a reader (or a resumed job) must never see a half-written file under a
// final name. rename() within one directory is atomic; the two fsyncs make the
// new contents and the new directory entry survive a power loss.
#pragma once
#include <string>

namespace aevb {

// "<final>.tmp.<pid>": same directory, so the rename never crosses file systems.
std::string temp_path_for(const std::string& final_path);

// Directory part of a path ("." when it has none).
std::string parent_dir(const std::string& path);

// Throws output_error naming `dir` unless it exists, is a directory and is
// writable. `purpose` completes the message, e.g. "cannot write x.h5".
void require_writable_dir(const std::string& dir, const std::string& purpose);

// Creates `dir` (and missing parents). Returns true if it created the leaf, so a
// failed writer can remove the directory it made. Throws output_error.
bool make_output_dir(const std::string& dir);

void fsync_file(const std::string& path);  // output_error on failure
void fsync_dir(const std::string& dir);    // output_error on failure

// rename(tmp, final) then fsync(parent of final). output_error on failure.
void rename_durably(const std::string& tmp_path, const std::string& final_path);

// Whole-file atomic write of a small text file (e.g. manifest.json).
void write_text_atomically(const std::string& final_path, const std::string& content);

}  // namespace aevb
