use anyhow::Result;
use gan_tensor::RuntimeInfo;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn handle_command(args: Args) -> Result<()> {
    let info = RuntimeInfo::query();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(());
    }
    let yes = |b: bool| if b { "yes" } else { "no" };
    println!(
        "libtorch          {} ({})",
        info.libtorch_version, info.libtorch_dir
    );
    println!("CUDA build        {}", yes(info.cuda_built));
    println!("CUDA available    {}", yes(info.cuda_available));
    println!("CUDA devices      {}", info.cuda_device_count);
    println!(
        "cuDNN available   {}{}",
        yes(info.cudnn_available),
        if info.cudnn_version > 0 {
            format!(" (version {})", info.cudnn_version)
        } else {
            String::new()
        }
    );
    println!("CPU threads       {}", info.threads);
    println!("MKL / OpenMP      {} / {}", yes(info.mkl), yes(info.openmp));
    if info.cuda_built && !info.cuda_available {
        println!("note: this libtorch supports CUDA but no GPU/driver is visible; training runs on the CPU");
    }
    Ok(())
}
