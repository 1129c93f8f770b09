//! `replay convert`: any supported source to MessagePack frames (optionally gzipped), the format
//! of `processor local`'s log and the fastest to replay.

use crate::cli::ConvertArgs;
use crate::error::Error;
use crate::progress::Summary;
use crate::stream::each_record;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::fs::File;
use std::io::{self, BufWriter, Write};

/// Runs `replay convert`.
///
/// # Errors
/// Source, output and `--strict` failures.
pub fn run(args: &ConvertArgs) -> Result<Summary, Error> {
    let err = |source| Error::Output {
        path: args.to.clone(),
        source,
    };
    let out: Box<dyn Write> = if args.to.as_os_str() == "-" {
        Box::new(io::stdout().lock())
    } else {
        Box::new(File::create(&args.to).map_err(err)?)
    };
    let mut out = BufWriter::with_capacity(1 << 20, out);
    let summary = if args.gzip {
        let mut gz = GzEncoder::new(&mut out, Compression::fast());
        let summary = write_frames(args, &mut gz)?;
        gz.finish().map_err(err)?;
        summary
    } else {
        write_frames(args, &mut out)?
    };
    out.flush().map_err(err)?;
    Ok(summary)
}

fn write_frames(args: &ConvertArgs, out: &mut impl Write) -> Result<Summary, Error> {
    let mut frame = Vec::with_capacity(1024);
    let pass = each_record(&args.input, |record, _| {
        frame.clear();
        schemas::encode_frame(record, &mut frame);
        out.write_all(&frame).map_err(|source| Error::Output {
            path: args.to.clone(),
            source,
        })
    })?;
    Ok(pass.summary)
}
