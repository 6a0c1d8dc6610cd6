/** Paths of the shared test data that llama.cpp made (see ../shared/testdata/README.md). */
import path from "node:path";

export const SHARED_TESTDATA = path.resolve(__dirname, "../../../shared/testdata");
export const STORIES_F32 = path.join(SHARED_TESTDATA, "models/stories260K-f32.gguf");
export const STORIES_Q8_0 = path.join(SHARED_TESTDATA, "models/stories260K-q8_0.gguf");
export const STORIES_REFERENCE = path.join(SHARED_TESTDATA, "models/stories260K.reference.json");
