# Shared by the quality scripts (limited_data.sh, finetune.sh, quality_stylegan2.sh); source it
# after setting `out` (the output folder) and `clf` (the classifier folder).
#
# Sets GAN: the binary to run. Without GAN in the environment, a release build copied to
# $out/gan, so that rebuilding during the runs does not change the binary under them. Then
# trains the domain classifier into $clf unless it is there.
mkdir -p "$out/configs"
if [ -z "${GAN:-}" ]; then
  cargo build --release --quiet -p gan-cli
  cp target/release/gan "$out/gan"
  GAN=$out/gan
fi
if [ ! -f "$clf/classifier.json" ]; then
  "$GAN" classifier train --data fashion-mnist --pad 2 > "$out/classifier.log" 2>&1
fi
