// Names the media service gives files: shared by uploads
// (media_service.cpp) and cached remote media (media_remote.cpp).
#pragma once

#include <string>

namespace gc {

// A temp file name in `dir` that nobody else uses (the caller creates it).
std::string MediaTempName(const std::string& dir, const char* what);

// A file name as given by a client (or an origin node), made harmless for
// listings and the Content-Disposition header: no path, no control or quote
// characters, at most 255 bytes of valid UTF-8.
std::string CleanMediaFilename(const std::string& in);

}  // namespace gc
