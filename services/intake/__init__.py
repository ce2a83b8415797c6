"""One-window intake (一窗受理): applications become accepted cases, corrections or rejections."""
