"""Reference outputs for gan-models' StyleGAN2 networks (`stylegan2.rs`), made with PyTorch (the
torch `cargo xtask setup` installs, plus `pip install safetensors` into its venv).

The networks below are a transcription of the equations of NVlabs/stylegan2-ada-pytorch
`training/networks.py` (`FullyConnectedLayer`, `Conv2dLayer`, `MappingNetwork`,
`modulated_conv2d`, `SynthesisLayer`, `ToRGBLayer`, `SynthesisBlock` with the `skip`
architecture, `SynthesisNetwork`, `Generator`, `DiscriminatorBlock` with the `resnet`
architecture, `MinibatchStdLayer`, `DiscriminatorEpilogue`, `Discriminator`) and of the
reference paths of `torch_utils/ops/{bias_act,upfirdn2d,conv2d_resample}.py`, written from their
description in plain torch operations (no custom CUDA ops, float32 only, no fp16 blocks), not
copied. The module tree keeps upstream's structure, so the state dict has upstream's names
(`mapping.fc0.weight`, `synthesis.b8.conv0.noise_const`, `b16.skip.weight`, `b4.fc.weight`,
...), which are also the Rust names, in upstream's order. The one difference: upstream registers
a `resample_filter` buffer (the normalised [1, 3, 3, 1] outer product) in every
`SynthesisLayer`, `SynthesisBlock`, `Conv2dLayer` and `DiscriminatorBlock`; here, as in Rust, the
filter is a constant, so those buffers are not in the fixture. `check_names` asserts the names
against the list written out from upstream's constructors for the small configurations.

Run: ~/.cache/gan-toolkit/torch-2.11.0/venv/bin/python3 scripts/stylegan2_fixtures.py
Writes crates/gan-models/tests/fixtures/stylegan2_small.safetensors (about ten seconds on a CPU,
most of it building the upstream-sized networks whose parameter counts it prints at the end).

Notes on upstream's semantics that the Rust side must follow:
* ws bookkeeping: block b4 reads ws[:, 0:2] (conv1, torgb), b8 ws[:, 1:4] (conv0, conv1,
  torgb), b16 ws[:, 3:6]; a block's torgb shares its w with the next block's conv0, and
  num_ws = sum(num_conv) + 1 (the last torgb) = 6 at 16x16.
* flip_weight: layers without up-sampling run a correlation (F.conv2d as is). The up-sampling
  layers pass flip_weight=False, and conv2d_resample's transposed path then calls
  conv_transpose2d with the weight as is (it flips the flag back), so the up layers are a
  plain transposed convolution of the (in/out swapped) weight, no spatial flip.
* Padding: up=2 with a 3x3 kernel and padding 1: conv_transpose2d stride 2, padding 0
  (2H+1 pixels), then the FIR with padding [1, 1, 1, 1] and gain 4 (2H pixels).
  down=2 with 3x3: the FIR with padding [2, 2, 2, 2] (H+1 pixels) then conv stride 2,
  padding 0. down=2 with 1x1 (the skip): the FIR down-sampling itself (padding [1, 1, 1, 1],
  keep every 2nd pixel starting at 0) then the 1x1 conv. upsample2d (the image in the skip
  generator): zero-stuffing (the zero after each pixel), padding [2, 1, 2, 1], gain 4.
* Fused and non-fused modulated convolutions agree to float32 rounding (the script checks it:
  about 1e-6 relative here); the fixture has both.
* The discriminator's conditioning mapping uses upstream's MappingNetwork defaults except
  num_layers: upstream's train.py passes no mapping kwargs to D, so it has 8 layers there; the
  fixture uses 2. cmap_dim = channels at 4x4 = 16 (upstream's default).
* MinibatchStdLayer groups are strided: with N=4 and G=2, samples {0, 2} and {1, 3}
  (x.reshape(G, N/G, ...)), the variance is the biased one (divide by G) and eps 1e-8 is
  added before the square root.
"""
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "gan-models", "tests", "fixtures")

SQRT2 = math.sqrt(2.0)
SLOPE = 0.2


# ---------------------------------------------------------------------------------------------
# Elementary operations.

def fir_filter():
    """setup_filter([1, 3, 3, 1]): the outer product of the taps, normalised to sum 1 (a 1-D
    list of fewer than 8 taps becomes a non-separable 2-D filter)."""
    k = torch.tensor([1.0, 3.0, 3.0, 1.0])
    f = torch.outer(k, k)
    return f / f.sum()


FILTER = fir_filter()


def bias_act(x, b=None, act="linear", gain=None, clamp=None):
    """x + b (b along dim 1), then the activation (leaky ReLU slope 0.2 or identity), then the
    gain (default sqrt 2 for lrelu, 1 for linear), then clamping to [-clamp, clamp]."""
    if b is not None:
        x = x + b.reshape([1, -1] + [1] * (x.dim() - 2))
    if act == "lrelu":
        x = F.leaky_relu(x, SLOPE)
        default_gain = SQRT2
    else:
        assert act == "linear"
        default_gain = 1.0
    gain = default_gain if gain is None else gain
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


def upfirdn2d(x, f, up=1, down=1, pad=(0, 0, 0, 0), gain=1.0):
    """Per channel: insert up-1 zeros after every pixel, pad by (x0, x1, y0, y1) zeros (negative
    crops), convolve with f (a true convolution, so the filter is flipped before F.conv2d; it is
    symmetric anyway) times gain, keep every down-th pixel."""
    n, c, h, w = x.shape
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    x0, x1, y0, y1 = pad
    x = F.pad(x, [max(x0, 0), max(x1, 0), max(y0, 0), max(y1, 0)])
    x = x[:, :, max(-y0, 0): x.shape[2] - max(-y1, 0), max(-x0, 0): x.shape[3] - max(-x1, 0)]
    k = (f * gain).flip([0, 1]).to(x.dtype)
    k = k[None, None].repeat(c, 1, 1, 1)
    x = F.conv2d(x, k, groups=c)
    return x[:, :, ::down, ::down]


def upsample2d(x, f=FILTER, up=2):
    """upfirdn2d's upsample2d with padding 0: the result is exactly up times larger."""
    fw = f.shape[-1]
    p0, p1 = (fw + up - 1) // 2, (fw - up) // 2
    return upfirdn2d(x, f, up=up, pad=(p0, p1, p0, p1), gain=up * up)


def conv(x, w, stride=1, padding=0, groups=1, transpose=False, flip_weight=True):
    """conv2d_resample's wrapper: flip_weight=False turns the correlation into a convolution."""
    if not flip_weight and (w.shape[2] > 1 or w.shape[3] > 1):
        w = w.flip([2, 3])
    if transpose:
        return F.conv_transpose2d(x, w, stride=stride, padding=padding, groups=groups)
    return F.conv2d(x, w, stride=stride, padding=padding, groups=groups)


def conv2d_resample(x, w, f=FILTER, up=1, down=1, padding=0, groups=1, flip_weight=True):
    """The paths of upstream's conv2d_resample that StyleGAN2 takes; padding is with respect to
    the up-sampled image and is applied once, the filter's share added here."""
    o, i_per_group, kh, kw = w.shape
    fw = f.shape[-1]
    px0 = px1 = padding
    if up > 1:
        px0 += (fw + up - 1) // 2
        px1 += (fw - up) // 2
    if down > 1:
        px0 += (fw - down + 1) // 2
        px1 += (fw - down) // 2
    # Square kernels and filters only: the y paddings equal the x ones.
    if kh == 1 and kw == 1 and down > 1 and up == 1:
        # 1x1 with down-sampling: filter and subsample first, then the 1x1 convolution.
        x = upfirdn2d(x, f, down=down, pad=(px0, px1, px0, px1))
        return conv(x, w, groups=groups, flip_weight=flip_weight)
    if kh == 1 and kw == 1 and up > 1 and down == 1:
        # 1x1 with up-sampling (resnet generator only): convolve first, then up-sample.
        x = conv(x, w, groups=groups, flip_weight=flip_weight)
        return upfirdn2d(x, f, up=up, pad=(px0, px1, px0, px1), gain=up * up)
    if down > 1 and up == 1:
        # Down-sampling: filter (no subsampling) then a strided convolution.
        x = upfirdn2d(x, f, pad=(px0, px1, px0, px1))
        return conv(x, w, stride=down, groups=groups, flip_weight=flip_weight)
    if up > 1:
        assert down == 1
        # Up-sampling: a strided transposed convolution (weights [in, out/groups, k, k] per
        # group) then the filter with gain up^2 on what padding remains.
        if groups == 1:
            w = w.transpose(0, 1)
        else:
            w = w.reshape(groups, o // groups, i_per_group, kh, kw).transpose(1, 2)
            w = w.reshape(groups * i_per_group, o // groups, kh, kw)
        px0 -= kw - 1
        px1 -= kw - up
        pt = max(min(-px0, -px1), 0)
        x = conv(x, w, stride=up, padding=pt, groups=groups, transpose=True,
                 flip_weight=not flip_weight)
        q0, q1 = px0 + pt, px1 + pt
        return upfirdn2d(x, f, pad=(q0, q1, q0, q1), gain=up * up)
    # Neither: symmetric non-negative padding goes to the convolution itself.
    assert px0 == px1 and px0 >= 0
    return conv(x, w, padding=px0, groups=groups, flip_weight=flip_weight)


def conv2d_resample_generic(x, w, f=FILTER, up=1, down=1, padding=0, flip_weight=True):
    """Upstream's fallback order (zero-stuff + pad + filter, then a stride-1 convolution, then
    filter-and-subsample), used only to check the fast paths above; groups = 1."""
    fw = f.shape[-1]
    px0 = px1 = padding
    if up > 1:
        px0 += (fw + up - 1) // 2
        px1 += (fw - up) // 2
    if down > 1:
        px0 += (fw - down + 1) // 2
        px1 += (fw - down) // 2
    if up > 1:
        x = upfirdn2d(x, f, up=up, pad=(px0, px1, px0, px1), gain=up * up)
    else:
        x = upfirdn2d(x, torch.ones(1, 1), pad=(px0, px1, px0, px1))
    x = conv(x, w, flip_weight=flip_weight)
    if down > 1:
        x = upfirdn2d(x, f, down=down)
    return x


def normalize_2nd_moment(x, eps=1e-8):
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def modulated_conv2d(x, weight, styles, noise=None, up=1, padding=0, demodulate=True,
                     flip_weight=True, fused_modconv=True):
    """StyleGAN2's modulated convolution. Fused: per-sample weights weight * s_i (times the
    demodulation 1 / sqrt(sum over i, k of (weight * s_i)^2 + 1e-8)) as one grouped convolution,
    groups = batch, then + noise. Non-fused: x * s, the shared weight, then * dcoefs + noise."""
    n = x.shape[0]
    o, i, kh, kw = weight.shape
    w = None
    dcoefs = None
    if demodulate or fused_modconv:
        w = weight.unsqueeze(0) * styles.reshape(n, 1, i, 1, 1)        # [N, O, I, k, k]
    if demodulate:
        dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()         # [N, O]
    if demodulate and fused_modconv:
        w = w * dcoefs.reshape(n, o, 1, 1, 1)
    if not fused_modconv:
        x = x * styles.reshape(n, i, 1, 1)
        x = conv2d_resample(x, weight, up=up, padding=padding, flip_weight=flip_weight)
        if demodulate:
            x = x * dcoefs.reshape(n, o, 1, 1)
        if noise is not None:
            x = x + noise
        return x
    x = x.reshape(1, n * i, *x.shape[2:])
    x = conv2d_resample(x, w.reshape(n * o, i, kh, kw), up=up, padding=padding, groups=n,
                        flip_weight=flip_weight)
    x = x.reshape(n, o, *x.shape[2:])
    if noise is not None:
        x = x + noise
    return x


# ---------------------------------------------------------------------------------------------
# Layers.

class FullyConnectedLayer(nn.Module):
    """Equalized-learning-rate linear layer: weight ~ N(0, 1) / lr_mul, used times
    lr_mul / sqrt(in); bias initialised to bias_init, used times lr_mul."""

    def __init__(self, fin, fout, bias=True, activation="linear", lr_multiplier=1.0,
                 bias_init=0.0):
        super().__init__()
        self.activation = activation
        self.lr_multiplier = lr_multiplier
        self.weight = nn.Parameter(torch.randn(fout, fin) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([fout], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(fin)
        self.bias_gain = lr_multiplier

    def forward(self, x):
        w = self.weight * self.weight_gain
        b = None if self.bias is None else self.bias * self.bias_gain
        if self.activation == "linear" and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, act=self.activation)


class Conv2dLayer(nn.Module):
    """Equalized-learning-rate convolution with optional up/down-sampling; weight gain
    1 / sqrt(in * k^2), activation gain (sqrt 2 for lrelu) times the call's gain, clamp
    conv_clamp times the call's gain."""

    def __init__(self, cin, cout, kernel_size, bias=True, activation="linear", up=1, down=1,
                 conv_clamp=None):
        super().__init__()
        self.activation = activation
        self.up = up
        self.down = down
        self.conv_clamp = conv_clamp
        self.padding = kernel_size // 2
        self.weight_gain = 1.0 / math.sqrt(cin * kernel_size ** 2)
        self.act_gain = SQRT2 if activation == "lrelu" else 1.0
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None

    def forward(self, x, gain=1.0):
        w = self.weight * self.weight_gain
        x = conv2d_resample(x, w, up=self.up, down=self.down, padding=self.padding,
                            flip_weight=(self.up == 1))
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        return bias_act(x, self.bias, act=self.activation, gain=self.act_gain * gain,
                        clamp=clamp)


class MappingNetwork(nn.Module):
    """z (normalised by its second moment) and the embedded, normalised class concatenated
    after it; num_layers lrelu FCs with lr_mul 0.01; the tracked w_avg; broadcast; truncation."""

    def __init__(self, z_dim, c_dim, w_dim, num_ws, num_layers=8, lr_multiplier=0.01,
                 w_avg_beta=0.995):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.num_ws, self.num_layers, self.w_avg_beta = num_ws, num_layers, w_avg_beta
        embed_features = w_dim if c_dim > 0 else 0
        features = [z_dim + embed_features] + [w_dim] * num_layers
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for idx in range(num_layers):
            setattr(self, f"fc{idx}", FullyConnectedLayer(
                features[idx], features[idx + 1], activation="lrelu",
                lr_multiplier=lr_multiplier))
        if num_ws is not None and w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z, c, truncation_psi=1.0, skip_w_avg_update=False):
        x = None
        if self.z_dim > 0:
            x = normalize_2nd_moment(z.float())
        if self.c_dim > 0:
            y = normalize_2nd_moment(self.embed(c.float()))
            x = y if x is None else torch.cat([x, y], dim=1)
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)
        if self.w_avg_beta is not None and self.training and not skip_w_avg_update:
            with torch.no_grad():
                # lerp(mean, w_avg, beta) = mean + beta * (w_avg - mean)
                self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        if self.num_ws is not None:
            x = x.unsqueeze(1).repeat(1, self.num_ws, 1)
        if truncation_psi != 1:
            x = self.w_avg.lerp(x, truncation_psi)   # w_avg + psi * (w - w_avg)
        return x


class SynthesisLayer(nn.Module):
    """Affine (bias_init 1) -> styles; modulated 3x3 convolution with demodulation (up-sampling
    by 2 in conv0); noise noise_strength * (noise_const or fresh N(0, 1)); bias, lrelu with
    gain sqrt 2, clamp."""

    def __init__(self, cin, cout, w_dim, resolution, kernel_size=3, up=1, conv_clamp=None):
        super().__init__()
        self.resolution = resolution
        self.up = up
        self.conv_clamp = conv_clamp
        self.padding = kernel_size // 2
        self.affine = FullyConnectedLayer(w_dim, cin, bias_init=1)
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel_size, kernel_size))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros(cout))

    def forward(self, x, w, noise_mode="random", fused_modconv=True, gain=1.0):
        assert noise_mode in ("random", "const", "none")
        assert x.shape[2] == self.resolution // self.up
        styles = self.affine(w)
        noise = None
        if noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, self.resolution, self.resolution) \
                * self.noise_strength
        elif noise_mode == "const":
            noise = self.noise_const * self.noise_strength
        x = modulated_conv2d(x, self.weight, styles, noise=noise, up=self.up,
                             padding=self.padding, flip_weight=(self.up == 1),
                             fused_modconv=fused_modconv)
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        return bias_act(x, self.bias, act="lrelu", gain=SQRT2 * gain, clamp=clamp)


class ToRGBLayer(nn.Module):
    """1x1 modulated convolution without demodulation, styles times 1 / sqrt(in), bias, no
    activation, clamp."""

    def __init__(self, cin, cout, w_dim, kernel_size=1, conv_clamp=None):
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, cin, bias_init=1)
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.weight_gain = 1.0 / math.sqrt(cin * kernel_size ** 2)

    def forward(self, x, w, fused_modconv=True):
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False,
                             fused_modconv=fused_modconv)
        return bias_act(x, self.bias, clamp=self.conv_clamp)


class SynthesisBlock(nn.Module):
    """One resolution of the skip generator: the constant (first block) or conv0 (up-sampling),
    conv1, and torgb added to the up-sampled image so far."""

    def __init__(self, cin, cout, w_dim, resolution, img_channels, is_last, conv_clamp=None):
        super().__init__()
        self.cin = cin
        self.w_dim = w_dim
        self.resolution = resolution
        self.num_conv = 0
        self.num_torgb = 0
        if cin == 0:
            self.const = nn.Parameter(torch.randn(cout, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(cin, cout, w_dim, resolution, up=2,
                                        conv_clamp=conv_clamp)
            self.num_conv += 1
        self.conv1 = SynthesisLayer(cout, cout, w_dim, resolution, conv_clamp=conv_clamp)
        self.num_conv += 1
        self.torgb = ToRGBLayer(cout, img_channels, w_dim, conv_clamp=conv_clamp)  # 'skip'
        self.num_torgb += 1

    def forward(self, x, img, ws, noise_mode="random", fused_modconv=True):
        assert ws.shape[1] == self.num_conv + self.num_torgb
        n = ws.shape[0]
        ws = iter(ws.unbind(dim=1))
        if self.cin == 0:
            x = self.const.unsqueeze(0).repeat(n, 1, 1, 1)
            x = self.conv1(x, next(ws), noise_mode=noise_mode, fused_modconv=fused_modconv)
        else:
            x = self.conv0(x, next(ws), noise_mode=noise_mode, fused_modconv=fused_modconv)
            x = self.conv1(x, next(ws), noise_mode=noise_mode, fused_modconv=fused_modconv)
        if img is not None:
            img = upsample2d(img)
        y = self.torgb(x, next(ws), fused_modconv=fused_modconv)
        img = y if img is None else img + y
        return x, img


class SynthesisNetwork(nn.Module):
    def __init__(self, w_dim, img_resolution, img_channels, channel_base=32768, channel_max=512,
                 conv_clamp=None):
        super().__init__()
        self.w_dim = w_dim
        log2 = int(math.log2(img_resolution))
        assert 2 ** log2 == img_resolution and img_resolution >= 4
        self.block_resolutions = [2 ** i for i in range(2, log2 + 1)]
        ch = {r: min(channel_base // r, channel_max) for r in self.block_resolutions}
        self.num_ws = 0
        for r in self.block_resolutions:
            cin = ch[r // 2] if r > 4 else 0
            is_last = r == img_resolution
            block = SynthesisBlock(cin, ch[r], w_dim, r, img_channels, is_last,
                                   conv_clamp=conv_clamp)
            self.num_ws += block.num_conv
            if is_last:
                self.num_ws += block.num_torgb
            setattr(self, f"b{r}", block)

    def block_ws(self, ws):
        """Block b reads num_conv + num_torgb ws starting where the previous block's convs
        ended: its torgb w is the next block's conv0 w."""
        out, idx = [], 0
        for r in self.block_resolutions:
            block = getattr(self, f"b{r}")
            out.append(ws.narrow(1, idx, block.num_conv + block.num_torgb))
            idx += block.num_conv
        return out

    def forward(self, ws, noise_mode="random", fused_modconv=True):
        assert ws.shape[1:] == (self.num_ws, self.w_dim)
        x = img = None
        for r, cur in zip(self.block_resolutions, self.block_ws(ws.float())):
            block = getattr(self, f"b{r}")
            x, img = block(x, img, cur, noise_mode=noise_mode, fused_modconv=fused_modconv)
        return img


class Generator(nn.Module):
    def __init__(self, z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_layers=8,
                 channel_base=32768, channel_max=512, conv_clamp=None):
        super().__init__()
        self.synthesis = SynthesisNetwork(w_dim, img_resolution, img_channels, channel_base,
                                          channel_max, conv_clamp)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim, c_dim, w_dim, self.num_ws,
                                      num_layers=mapping_layers)


class DiscriminatorBlock(nn.Module):
    """resnet block: fromrgb (first block only), conv0 3x3, conv1 3x3 down 2 (gain sqrt 0.5),
    skip 1x1 down 2 without bias (gain sqrt 0.5); x = skip(x) + conv1(conv0(x))."""

    def __init__(self, cin, tmp, cout, resolution, img_channels, conv_clamp=None):
        super().__init__()
        assert cin in (0, tmp)
        self.cin = cin
        self.resolution = resolution
        if cin == 0:
            self.fromrgb = Conv2dLayer(img_channels, tmp, 1, activation="lrelu",
                                       conv_clamp=conv_clamp)
        self.conv0 = Conv2dLayer(tmp, tmp, 3, activation="lrelu", conv_clamp=conv_clamp)
        self.conv1 = Conv2dLayer(tmp, cout, 3, activation="lrelu", down=2,
                                 conv_clamp=conv_clamp)
        self.skip = Conv2dLayer(tmp, cout, 1, bias=False, down=2)

    def forward(self, x, img):
        if self.cin == 0:
            y = self.fromrgb(img)
            x = y if x is None else x + y
            img = None
        y = self.skip(x, gain=math.sqrt(0.5))
        x = self.conv0(x)
        x = self.conv1(x, gain=math.sqrt(0.5))
        return y + x, img


class MinibatchStdLayer(nn.Module):
    def __init__(self, group_size, num_channels=1):
        super().__init__()
        self.group_size = group_size
        self.num_channels = num_channels

    def forward(self, x):
        n, c, h, w = x.shape
        g = min(self.group_size, n) if self.group_size is not None else n
        f = self.num_channels
        y = x.reshape(g, -1, f, c // f, h, w)       # sample s = gi * (n / g) + j: group j
        y = y - y.mean(dim=0)
        y = (y.square().mean(dim=0) + 1e-8).sqrt()   # [n/g, F, c/F, H, W]
        y = y.mean(dim=[2, 3, 4]).reshape(-1, f, 1, 1)
        y = y.repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)


class DiscriminatorEpilogue(nn.Module):
    def __init__(self, cin, cmap_dim, resolution, mbstd_group_size=4, mbstd_num_channels=1,
                 conv_clamp=None):
        super().__init__()
        self.cmap_dim = cmap_dim
        self.mbstd = MinibatchStdLayer(mbstd_group_size, mbstd_num_channels) \
            if mbstd_num_channels > 0 else None
        self.conv = Conv2dLayer(cin + mbstd_num_channels, cin, 3, activation="lrelu",
                                conv_clamp=conv_clamp)
        self.fc = FullyConnectedLayer(cin * resolution ** 2, cin, activation="lrelu")
        self.out = FullyConnectedLayer(cin, 1 if cmap_dim == 0 else cmap_dim)

    def forward(self, x, cmap):
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.conv(x)
        x = self.fc(x.flatten(1))
        x = self.out(x)
        if self.cmap_dim > 0:
            x = (x * cmap).sum(dim=1, keepdim=True) * (1.0 / math.sqrt(self.cmap_dim))
        return x


class Discriminator(nn.Module):
    def __init__(self, c_dim, img_resolution, img_channels, channel_base=32768, channel_max=512,
                 conv_clamp=None, cmap_dim=None, mapping_layers=8, mbstd_group_size=4,
                 mbstd_num_channels=1):
        super().__init__()
        self.c_dim = c_dim
        log2 = int(math.log2(img_resolution))
        self.block_resolutions = [2 ** i for i in range(log2, 2, -1)]
        ch = {r: min(channel_base // r, channel_max) for r in self.block_resolutions + [4]}
        if cmap_dim is None:
            cmap_dim = ch[4]
        if c_dim == 0:
            cmap_dim = 0
        for r in self.block_resolutions:
            cin = ch[r] if r < img_resolution else 0
            setattr(self, f"b{r}", DiscriminatorBlock(cin, ch[r], ch[r // 2], r, img_channels,
                                                       conv_clamp=conv_clamp))
        if c_dim > 0:
            self.mapping = MappingNetwork(0, c_dim, cmap_dim, None, num_layers=mapping_layers,
                                          w_avg_beta=None)
        self.b4 = DiscriminatorEpilogue(ch[4], cmap_dim, 4, mbstd_group_size,
                                        mbstd_num_channels, conv_clamp=conv_clamp)

    def forward(self, img, c):
        x = None
        for r in self.block_resolutions:
            x, img = getattr(self, f"b{r}")(x, img)
        cmap = self.mapping(None, c) if self.c_dim > 0 else None
        return self.b4(x, cmap)


# ---------------------------------------------------------------------------------------------
# Upstream's state-dict names for the small configurations, written out from networks.py's
# constructors (a module's own parameters, then its buffers, then its children in assignment
# order). `resample_filter` marks upstream's filter buffers, dropped here.

def upstream_fc(prefix, bias=True):
    return [prefix + "weight"] + ([prefix + "bias"] if bias else [])


def upstream_synthesis_layer(p):
    return [p + "weight", p + "noise_strength", p + "bias", p + "resample_filter",
            p + "noise_const"] + upstream_fc(p + "affine.")


def upstream_torgb(p):
    return [p + "weight", p + "bias"] + upstream_fc(p + "affine.")


def upstream_generator_names(c_dim, resolutions, mapping_layers):
    names = []
    for r in resolutions:
        p = f"synthesis.b{r}."
        if r == 4:
            names += [p + "const", p + "resample_filter"]
        else:
            names += [p + "resample_filter"] + upstream_synthesis_layer(p + "conv0.")
        names += upstream_synthesis_layer(p + "conv1.") + upstream_torgb(p + "torgb.")
    names.append("mapping.w_avg")
    if c_dim > 0:
        names += upstream_fc("mapping.embed.")
    for i in range(mapping_layers):
        names += upstream_fc(f"mapping.fc{i}.")
    return names


def upstream_conv(p, bias=True):
    return [p + "weight"] + ([p + "bias"] if bias else []) + [p + "resample_filter"]


def upstream_discriminator_names(c_dim, resolutions, mapping_layers):
    names = []
    for i, r in enumerate(resolutions):
        p = f"b{r}."
        names.append(p + "resample_filter")
        if i == 0:
            names += upstream_conv(p + "fromrgb.")
        names += upstream_conv(p + "conv0.") + upstream_conv(p + "conv1.") \
            + upstream_conv(p + "skip.", bias=False)
    if c_dim > 0:
        names += upstream_fc("mapping.embed.")
        for i in range(mapping_layers):
            names += upstream_fc(f"mapping.fc{i}.")
    names += upstream_conv("b4.conv.") + upstream_fc("b4.fc.") + upstream_fc("b4.out.")
    return names


def check_names(net, expected):
    keys = list(net.state_dict())
    want = [k for k in expected if not k.endswith("resample_filter")]
    assert keys == want, (keys, want)


# ---------------------------------------------------------------------------------------------
# Fixture.

SMALL = dict(img_resolution=16, img_channels=3, channel_base=64, channel_max=16,
             conv_clamp=256)


def randomize(net):
    """Overwrites every parameter and buffer with random values of the size upstream's
    initialisation gives them in use: stored mapping FC parameters are N(0, 1) / lr_mul (their
    effective values N(0, 1) / sqrt(in) and N(0, 0.25)), affine biases 1 + N(0, 0.25), other
    biases N(0, 0.25), noise strengths +-U(0.2, 1), everything else N(0, 1) (w_avg N(0, 0.25))."""
    with torch.no_grad():
        for name, t in list(net.named_parameters()) + list(net.named_buffers()):
            leaf = name.split(".")[-1]
            if name.startswith("mapping.fc"):
                lr = 0.01
                t.copy_(torch.randn_like(t) / lr * (0.5 if leaf == "bias" else 1.0))
            elif leaf == "bias":
                t.copy_(torch.randn_like(t) * 0.5 + (1.0 if ".affine." in name else 0.0))
            elif leaf == "noise_strength":
                sign = 1.0 if torch.rand([]) < 0.5 else -1.0
                t.copy_(sign * (0.2 + 0.8 * torch.rand([])))
            elif leaf == "w_avg":
                t.copy_(torch.randn_like(t) * 0.5)
            else:
                t.copy_(torch.randn_like(t))


def state(net):
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def add(t, prefix, d):
    for k, v in d.items():
        t[prefix + k] = v


def labels_covering(c_dim, batch):
    """Random labels in 0..c_dim in which every class occurs (batch >= c_dim), so that every
    column of the embedding is exercised."""
    return (torch.randperm(batch) % c_dim).to(torch.int64)


def one_hot(c, n):
    return F.one_hot(c, n).float()


def max_preclamp(fn):
    """Largest |value| reaching any clamp during fn(), to report whether clamping engages."""
    seen = [0.0]
    orig = torch.Tensor.clamp

    def spy(self, *a, **k):
        seen[0] = max(seen[0], self.detach().abs().max().item())
        return orig(self, *a, **k)
    torch.Tensor.clamp = spy
    try:
        fn()
    finally:
        torch.Tensor.clamp = orig
    return seen[0]


def generator_case(t, prefix, c_dim, batch, full):
    g = Generator(z_dim=8, c_dim=c_dim, w_dim=8, mapping_layers=2, **SMALL)
    check_names(g, upstream_generator_names(c_dim, [4, 8, 16], 2))
    assert g.num_ws == 6
    randomize(g)
    g.eval()
    add(t, prefix + "w.", state(g))
    z = torch.randn(batch, 8)
    t[prefix + "z"] = z
    c = None
    if c_dim > 0:
        labels = labels_covering(c_dim, batch)
        t[prefix + "c"] = labels
        c = one_hot(labels, c_dim)
    with torch.no_grad():
        ws = g.mapping(z, c)
        t[prefix + "ws"] = ws
        fused = g.synthesis(ws, noise_mode="const", fused_modconv=True)
        t[prefix + "img_fused_const"] = fused
        nonfused = g.synthesis(ws, noise_mode="const", fused_modconv=False)
        err = ((fused - nonfused).abs().max() / fused.abs().max()).item()
        print(f"{prefix} fused vs non-fused: max |diff| / max |img| = {err:.2e}")
        assert err < 1e-5
        peak = max_preclamp(lambda: g.synthesis(ws, noise_mode="const"))
        print(f"{prefix} largest |value| reaching a clamp (256): {peak:.3f}")
    if not full:
        return
    with torch.no_grad():
        t[prefix + "ws_trunc"] = g.mapping(z, c, truncation_psi=0.7)
        t[prefix + "img_nonfused_const"] = nonfused
        t[prefix + "img_fused_none"] = g.synthesis(ws, noise_mode="none", fused_modconv=True)
    # Path-length gradient (upstream's loss.py: noise / sqrt(H * W), grad of the sum w.r.t. ws).
    pl_noise = torch.randn_like(nonfused) / math.sqrt(16 * 16)
    t[prefix + "pl_noise"] = pl_noise
    ws_leaf = ws.clone().requires_grad_(True)
    img = g.synthesis(ws_leaf, noise_mode="const", fused_modconv=False)
    (grad,) = torch.autograd.grad((img * pl_noise).sum(), ws_leaf)
    t[prefix + "pl_grad"] = grad
    # The w_avg update: one training-mode mapping call (last, so the outputs above use the
    # saved w_avg).
    g.train()
    with torch.no_grad():
        before = g.mapping.w_avg.clone()
        w = g.mapping(z, c)
        expect = before * 0.995 + w[:, 0].mean(0) * 0.005
        assert torch.allclose(g.mapping.w_avg, expect, atol=1e-6)
        t[prefix + "w_avg_after"] = g.mapping.w_avg.clone()


def discriminator_case(t, prefix, c_dim, group, full):
    d = Discriminator(c_dim=c_dim, mapping_layers=2, mbstd_group_size=group,
                      mbstd_num_channels=1, **SMALL)
    check_names(d, upstream_discriminator_names(c_dim, [16, 8], 2))
    if c_dim > 0:
        assert d.b4.cmap_dim == 16 and d.mapping.fc1.weight.shape == (16, 16)
    randomize(d)
    add(t, prefix + "w.", state(d))
    img = torch.randn(4, 3, 16, 16)
    t[prefix + "img"] = img
    c = None
    if c_dim > 0:
        labels = labels_covering(c_dim, 4)
        t[prefix + "c"] = labels
        c = one_hot(labels, c_dim)
    x = img.clone().requires_grad_(True)
    logits = d(x, c)
    assert logits.shape == (4, 1)
    t[prefix + "logits"] = logits.detach()
    peak = max_preclamp(lambda: d(img, c))
    print(f"{prefix} largest |value| reaching a clamp (256 or 181): {peak:.3f}")
    if full:
        (grad,) = torch.autograd.grad(logits.sum(), x)
        t[prefix + "grad_img"] = grad


def self_checks():
    """The fast resampling paths against upstream's generic order, and the filter."""
    torch.manual_seed(1)
    assert torch.allclose(FILTER.sum(), torch.tensor(1.0))
    x = torch.randn(2, 3, 8, 8)
    for k in (3, 1):
        w = torch.randn(5, 3, k, k)
        a = conv2d_resample(x, w, down=2, padding=k // 2)
        b = conv2d_resample_generic(x, w, down=2, padding=k // 2)
        assert a.shape == (2, 5, 4, 4) and torch.allclose(a, b, atol=1e-5), (k, (a - b).abs().max())
    w = torch.randn(5, 3, 3, 3)
    for flip in (False, True):
        a = conv2d_resample(x, w, up=2, padding=1, flip_weight=flip)
        b = conv2d_resample_generic(x, w, up=2, padding=1, flip_weight=flip)
        assert a.shape == (2, 5, 16, 16) and torch.allclose(a, b, atol=1e-5), (a - b).abs().max()
    # Grouped transposed path = per-group ungrouped one.
    xs = torch.randn(1, 6, 8, 8)
    ws = torch.randn(10, 3, 3, 3)
    a = conv2d_resample(xs, ws, up=2, padding=1, groups=2, flip_weight=False)
    b = torch.cat([conv2d_resample(xs[:, :3], ws[:5], up=2, padding=1, flip_weight=False),
                   conv2d_resample(xs[:, 3:], ws[5:], up=2, padding=1, flip_weight=False)], 1)
    assert torch.allclose(a, b, atol=1e-5)
    # A constant image stays constant inside the border after upsample2d.
    u = upsample2d(torch.ones(1, 1, 4, 4))
    assert u.shape == (1, 1, 8, 8) and torch.allclose(u[..., 2:-2, 2:-2], torch.ones(1))


def counts():
    """Parameter counts (parameters only; buffers: noise_const, w_avg) of upstream-sized
    networks, for the Rust tests."""
    n = lambda m: sum(p.numel() for p in m.parameters())
    nb = lambda m: sum(b.numel() for b in m.buffers())
    torch.manual_seed(0)
    with torch.no_grad():
        for res, layers, base in ((32, 2, 32768), (256, 8, 16384)):
            g = Generator(512, 0, 512, res, 3, mapping_layers=layers, channel_base=base,
                          channel_max=512, conv_clamp=256)
            d = Discriminator(0, res, 3, channel_base=base, channel_max=512, conv_clamp=256)
            names = upstream_generator_names(0, [2 ** i for i in range(2, int(math.log2(res)) + 1)],
                                             layers)
            check_names(g, names)
            print(f"G res {res} map {layers} channel_base {base}: {n(g)} parameters "
                  f"(mapping {n(g.mapping)}, synthesis {n(g.synthesis)}), {nb(g)} buffer values")
            skips = sum(p.numel() for k, p in d.named_parameters() if ".skip." in k)
            print(f"D res {res} channel_base {base} c_dim 0: {n(d)} parameters "
                  f"({n(d) - skips} for the 'orig' architecture, without the skips)")
            del g, d


def main():
    os.makedirs(OUT, exist_ok=True)
    self_checks()
    torch.manual_seed(0)
    t = {}
    generator_case(t, "g.", 3, 4, True)
    generator_case(t, "gu.", 0, 4, False)
    discriminator_case(t, "d.", 3, 2, True)
    discriminator_case(t, "du.", 0, 4, False)
    from safetensors.torch import save_file  # only here: bench_stylegan2.py imports this file

    path = os.path.join(OUT, "stylegan2_small.safetensors")
    save_file({k: v.contiguous() for k, v in t.items()}, path)
    print(f"{path}: {len(t)} tensors, {os.path.getsize(path)} bytes")
    for k, v in t.items():
        if ".w." not in k:
            print(f"  {k} {list(v.shape)} {v.dtype}")
    counts()


if __name__ == "__main__":
    main()
