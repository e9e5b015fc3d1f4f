//! A quiet Vulkan start on a machine without a desktop session.
//!
//! Mesa installs an implicit Vulkan layer, `VK_LAYER_MESA_device_select`, that moves the GPU
//! driving the user's display to the front of the device list. wgpu enables the Wayland surface
//! extension, so the layer connects to a Wayland compositor to find that GPU; without a session
//! (`XDG_RUNTIME_DIR` unset, as on servers, in containers and in CI) libwayland prints
//! "error: XDG_RUNTIME_DIR is invalid or not set in the environment." on every Vulkan instance,
//! four times per command, although nothing went wrong. With no session there is no display GPU
//! to move forward, and boneseg picks its adapter itself (wgpu's high-performance preference),
//! so there the layer is switched off with its own switch, `NODEVICE_SELECT=1`. A user who
//! chooses a device through the layer (`MESA_VK_DEVICE_SELECT`) or sets `NODEVICE_SELECT`
//! keeps the layer as they set it.

/// Switches Mesa's device-select layer off when no desktop session exists.
pub fn quiet_vulkan_layers() {
    #[cfg(any(feature = "vulkan", feature = "wgpu"))]
    {
        let session =
            std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|dir| std::path::Path::new(&dir).is_absolute());
        let chosen =
            ["NODEVICE_SELECT", "MESA_VK_DEVICE_SELECT"].iter().any(|name| std::env::var_os(name).is_some());
        if !session && !chosen {
            // SAFETY: called first thing in main, before any other thread exists, so nothing
            // reads the environment concurrently.
            unsafe { std::env::set_var("NODEVICE_SELECT", "1") };
        }
    }
}
