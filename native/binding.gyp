{
  # The N-API addon. Source lists come from sources.json, shared with CMakeLists.txt.
  "variables": {
    "core_sources": ["<!@(node -p \"require('./sources.json').core.join(' ')\")"],
    "addon_sources": ["<!@(node -p \"require('./sources.json').addon.join(' ')\")"],
    "avx2_sources": ["<!@(node -p \"require('./sources.json').x86_avx2.join(' ')\")"],
    "avx512_sources": ["<!@(node -p \"require('./sources.json').x86_avx512.join(' ')\")"],
    "neon_sources": ["<!@(node -p \"require('./sources.json').arm_neon.join(' ')\")"],
    "metal_sources": ["<!@(node -p \"require('./sources.json').metal.join(' ')\")"],
    "metal_kernel_sources": ["<!@(node -p \"require('./sources.json').metal_kernels.join(' ')\")"]
  },
  "target_defaults": {
    "include_dirs": ["src", "<!@(node -p \"require('node-addon-api').include\")"],
    "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-fPIC"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++14", "-std=gnu++17", "-std=gnu++20"],
    "xcode_settings": {
      "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
      "GCC_ENABLE_CPP_RTTI": "YES",
      "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
      "MACOSX_DEPLOYMENT_TARGET": "11.0",
      "OTHER_CPLUSPLUSFLAGS": ["-O3"]
    },
    "msvs_settings": {"VCCLCompilerTool": {"ExceptionHandling": 1, "AdditionalOptions": ["/std:c++17"]}},
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
    "conditions": [
      ["target_arch=='x64'", {"defines": ["GHOSTLINE_X86=1"]}],
      ["target_arch=='arm64'", {"defines": ["GHOSTLINE_NEON=1"]}]
    ]
  },
  "targets": [
    {
      "target_name": "ghostline",
      "sources": ["<@(addon_sources)", "<@(core_sources)"],
      "conditions": [
        ["target_arch=='x64'", {"dependencies": ["ghostline_avx2", "ghostline_avx512"]}],
        ["target_arch=='arm64'", {"sources": ["<@(neon_sources)"]}],
        ["OS=='mac'", {
          # The Metal backend: Objective-C++ with manual retain/release (no ARC),
          # its kernels embedded as a string generated from the .metal source.
          "sources": ["<@(metal_sources)"],
          "defines": ["GHOSTLINE_WITH_METAL=1"],
          "include_dirs": ["<(SHARED_INTERMEDIATE_DIR)/ghostline_metal"],
          "actions": [{
            "action_name": "embed_metal_kernels",
            "inputs": ["<@(metal_kernel_sources)", "src/metal/embed_metal_source.py", "src/gpu/kernel_abi.h", "src/common/block_q8_0.h"],
            "outputs": ["<(SHARED_INTERMEDIATE_DIR)/ghostline_metal/metal_kernels_source.h"],
            "action": ["python3", "src/metal/embed_metal_source.py", "<@(metal_kernel_sources)", "src",
                       "<(SHARED_INTERMEDIATE_DIR)/ghostline_metal/metal_kernels_source.h"],
            "message": "Embedding the Metal kernels"
          }],
          "xcode_settings": {
            "CLANG_ENABLE_OBJC_ARC": "NO",
            "GCC_ENABLE_OBJC_EXCEPTIONS": "YES"
          },
          "link_settings": {"libraries": ["-framework Metal", "-framework Foundation"]}
        }]
      ]
    }
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "ghostline_avx2",
          "type": "static_library",
          "sources": ["<@(avx2_sources)"],
          "cflags_cc": ["-mavx2", "-mfma", "-mf16c"],
          "xcode_settings": {"OTHER_CPLUSPLUSFLAGS": ["-O3", "-mavx2", "-mfma", "-mf16c"]}
        },
        {
          "target_name": "ghostline_avx512",
          "type": "static_library",
          "sources": ["<@(avx512_sources)"],
          "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512vnni", "-mavx2", "-mfma", "-mf16c"],
          "xcode_settings": {"OTHER_CPLUSPLUSFLAGS": ["-O3", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512vnni", "-mavx2", "-mfma", "-mf16c"]}
        }
      ]
    }]
  ]
}
