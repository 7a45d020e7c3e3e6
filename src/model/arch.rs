//! The architecture of a model's network, as plain data: [`Arch`] (mlp or conv), the
//! image shape a convolution sees ([`ImageDims`]), the conv network's geometry
//! ([`ConvPlan`]: which stride-2 convolutions an image shape gets), why a conv network
//! cannot be ([`ArchError`]), and the config-level checks and parameter count. The layers
//! themselves, on candle and in plain loops, are in `model::conv`; this file uses neither,
//! so the config and the kind table can read it.

use serde::{Deserialize, Serialize};

/// The network's architecture: dense layers only, or convolutions around dense layers
/// (`model::conv`, images only). Checkpoints and runs written before it existed load as
/// [`Arch::Mlp`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// A multilayer perceptron: `hidden` dense layers, mirrored in the decoder.
    #[default]
    Mlp,
    /// Stride-2 convolutions, then dense layers (Burgess et al. 2018); see `model::conv`.
    Conv,
}

impl Arch {
    /// Every architecture, in the order the controls list them.
    pub const ALL: [Arch; 2] = [Arch::Mlp, Arch::Conv];

    /// The name on the command line and in files ("mlp", "conv").
    pub fn name(self) -> &'static str {
        match self {
            Arch::Mlp => "mlp",
            Arch::Conv => "conv",
        }
    }

    /// The default Adam learning rate. The MLP's 3e-3 separates the digits' classes in
    /// seconds; a conv model learns the 64×64 sprites faster at 1e-3 (after 12 epochs: test
    /// loss 129.2 against 136.2 at 3e-3, shapes told apart by 5-NN on the codes 77 % against
    /// 67 %; README, "Sprites"), as PyTorch's conv examples use.
    pub fn default_lr(self) -> f64 {
        match self {
            Arch::Mlp => 3e-3,
            Arch::Conv => 1e-3,
        }
    }

    /// At most how many items one forward pass that needs no gradient (evaluation, the
    /// snapshots' codes, the k-NN probe) takes at once. A 64×64 conv forward holds about
    /// 1 MB of patches per item and layer until its result is dropped, so 2,000 items at
    /// once held GBs (a `sprites` run peaked at 10.7 GiB); 128 at a time hold about 0.3 GB.
    /// The MLP's passes stay whole, so its numbers do not change.
    pub fn inference_rows(self) -> usize {
        match self {
            Arch::Mlp => usize::MAX,
            Arch::Conv => 128,
        }
    }

    /// Parses a command-line name; the message lists the names.
    pub fn from_name(name: &str) -> std::result::Result<Self, ArchError> {
        Arch::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| ArchError::Unknown(name.to_string()))
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The shape of an image item as a convolution sees it: channels × height × width, values
/// stored channel by channel, each row-major.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImageDims {
    /// 1 (grey) or 3 (colour).
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
}

/// Side of every convolution's square kernel.
pub const KERNEL: usize = 4;
/// Stride of every convolution.
pub const STRIDE: usize = 2;
/// Zero padding on each side.
pub const PADDING: usize = 1;
/// Channels of every hidden feature map.
pub const CHANNELS: usize = 32;
/// The dense layers after the convolutions (Burgess et al.: 256, 256).
pub const DENSE: [usize; 2] = [256, 256];
/// A side is halved again only while it is even and at least this.
pub const MIN_SIDE_TO_HALVE: usize = 8;

/// One stride-2 convolution: from a `height`×`width`×`c_in` map to a half-size `c_out` one.
/// The transposed convolution that mirrors it goes the other way with the same geometry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Rows of the larger map.
    pub height: usize,
    /// Columns of the larger map.
    pub width: usize,
    /// Channels of the larger map.
    pub c_in: usize,
    /// Channels of the smaller map.
    pub c_out: usize,
}

impl Geometry {
    /// Rows of the smaller map.
    pub fn out_height(&self) -> usize {
        self.height / STRIDE
    }

    /// Columns of the smaller map.
    pub fn out_width(&self) -> usize {
        self.width / STRIDE
    }

    /// Places of the smaller map (rows of the patch matrix).
    pub fn places(&self) -> usize {
        self.out_height() * self.out_width()
    }

    /// Values of one patch: `KERNEL·KERNEL·c_in`.
    pub fn patch(&self) -> usize {
        KERNEL * KERNEL * self.c_in
    }

    /// Values of the larger map.
    pub fn big(&self) -> usize {
        self.height * self.width * self.c_in
    }
}

/// Which convolutions a conv network of an image shape has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvPlan {
    /// The items' shape.
    pub image: ImageDims,
    /// The encoder's convolutions in order; the decoder's run in reverse.
    pub convs: Vec<Geometry>,
}

/// Why a conv network cannot be built for a config (worded for the command line and the
/// window alike).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ArchError {
    /// Neither grey nor colour.
    #[error(
        "--arch conv takes grey (1 channel) or colour (3 channel) images, not {channels} channels"
    )]
    Channels {
        /// Channels of the items.
        channels: usize,
    },
    /// Sides that cannot be halved by a 4×4 stride-2 convolution.
    #[error(
        "--arch conv needs images whose sides are even and at least {min} (each 4×4 stride-2 \
         convolution halves them); {width}×{height} is not (use --arch mlp)"
    )]
    Sides {
        /// The least side that is halved.
        min: usize,
        /// Width of the items.
        width: usize,
        /// Height of the items.
        height: usize,
    },
    /// Items that are not images.
    #[error("--arch conv needs image items (this data set's items are not images; use --arch mlp)")]
    NotImages,
    /// A config whose input size disagrees with its image shape.
    #[error("input size {input_dim} does not fit {channels}×{height}×{width} images")]
    InputSize {
        /// The config's input size.
        input_dim: usize,
        /// Channels of the images.
        channels: usize,
        /// Height of the images.
        height: usize,
        /// Width of the images.
        width: usize,
    },
    /// A kind whose penalty only the MLP computes.
    #[error(
        "{kind} cannot use --arch conv: its contractive penalty ‖∂μ/∂x‖² is computed in closed \
         form through the MLP's weight matrices and ReLU masks, which a convolutional encoder \
         does not have; use --arch mlp for {kind}"
    )]
    MlpOnly {
        /// The kind's name.
        kind: String,
    },
    /// A name that is no architecture.
    #[error("unknown architecture '{0}' (mlp or conv)")]
    Unknown(String),
}

impl ConvPlan {
    /// The plan for items of `image`, or why a conv network cannot take them.
    pub fn new(image: ImageDims) -> std::result::Result<Self, ArchError> {
        let ImageDims {
            channels,
            height,
            width,
        } = image;
        if channels != 1 && channels != 3 {
            return Err(ArchError::Channels { channels });
        }
        let mut convs = Vec::new();
        let (mut h, mut w, mut c) = (height, width, channels);
        while h % 2 == 0 && w % 2 == 0 && h >= MIN_SIDE_TO_HALVE && w >= MIN_SIDE_TO_HALVE {
            convs.push(Geometry {
                height: h,
                width: w,
                c_in: c,
                c_out: CHANNELS,
            });
            (h, w, c) = (h / 2, w / 2, CHANNELS);
        }
        if convs.is_empty() {
            return Err(ArchError::Sides {
                min: MIN_SIDE_TO_HALVE,
                width,
                height,
            });
        }
        Ok(Self { image, convs })
    }

    /// The plan of `arch` over items of `image` (`None`: not images): `None` for an MLP.
    pub fn for_items(
        arch: Arch,
        image: Option<ImageDims>,
    ) -> std::result::Result<Option<Self>, ArchError> {
        match (arch, image) {
            (Arch::Mlp, _) => Ok(None),
            (Arch::Conv, None) => Err(ArchError::NotImages),
            (Arch::Conv, Some(image)) => Self::new(image).map(Some),
        }
    }

    /// Values per item.
    pub fn input_dim(&self) -> usize {
        self.image.channels * self.image.height * self.image.width
    }

    /// The deepest map: what the dense layers see, flattened (rows, columns, channels).
    pub fn flat_dim(&self) -> usize {
        self.convs.last().map_or(0, |g| g.places() * g.c_out)
    }
}

/// Checks a config's architecture: a conv config has a plan, and its items have as many
/// values as `input_dim` says. (Kinds that cannot be conv say so in their own `check`.)
pub fn check(
    arch: Arch,
    image: Option<ImageDims>,
    input_dim: usize,
) -> std::result::Result<(), ArchError> {
    if let Some(plan) = ConvPlan::for_items(arch, image)?
        && plan.input_dim() != input_dim
    {
        return Err(ArchError::InputSize {
            input_dim,
            channels: plan.image.channels,
            height: plan.image.height,
            width: plan.image.width,
        });
    }
    Ok(())
}

/// The `check` of a kind whose penalty only the MLP computes (the contractive AE).
pub fn mlp_only(arch: Arch, kind: &str) -> std::result::Result<(), ArchError> {
    if arch == Arch::Conv {
        return Err(ArchError::MlpOnly {
            kind: kind.to_string(),
        });
    }
    Ok(())
}

/// Weights and biases of a conv config's network (saturating), 0 if it has no plan.
pub fn parameter_count(
    plan: &ConvPlan,
    hidden: &[usize],
    latent_dim: usize,
    variational: bool,
) -> u64 {
    let dense = |i: usize, o: usize| (i as u64).saturating_add(1).saturating_mul(o as u64);
    // Each convolution and its transposed twin: the same weights, biases of c_out and c_in.
    let convs: u64 = plan
        .convs
        .iter()
        .map(|g| (2 * g.patch() * g.c_out + g.c_out + g.c_in) as u64)
        .sum();
    let mut sizes = vec![plan.flat_dim()];
    sizes.extend_from_slice(hidden);
    let last = sizes.last().copied().unwrap_or(0);
    let heads = if variational { 2 } else { 1 };
    let trunk: u64 = sizes.windows(2).map(|w| dense(w[0], w[1])).sum();
    let mut dec = vec![latent_dim];
    dec.extend(hidden.iter().rev());
    dec.push(plan.flat_dim());
    let decoder: u64 = dec.windows(2).map(|w| dense(w[0], w[1])).sum();
    convs
        .saturating_add(trunk)
        .saturating_add(dense(last, latent_dim).saturating_mul(heads))
        .saturating_add(decoder)
}
