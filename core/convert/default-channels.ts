/** Channel names commonly used as a nuclear stain, lower-cased. */
const NUCLEAR = ['dapi', 'hoechst', 'dna', 'dna1', 'dna2', 'ir191', 'ir193', 'h3', 'histone h3', 'nuclear', 'draq5', 'sytox', 'pi'];
/** Channel names commonly used as a membrane/cytoplasm stain for whole-cell segmentation, lower-cased. */
const MEMBRANE = ['na-k-atpase', 'nakatpase', 'na/k-atpase', 'panck', 'pan-ck', 'pancytokeratin', 'cd45', 'e-cadherin', 'ecad',
  'beta-catenin', 'hla-abc', 'hla class 1', 'cd44', 'cd98', 'membrane', 'vimentin', 'wga'];

/**
 * Default channels when a run names none: the first channel whose name is a known nuclear stain
 * (else channel 0) and every channel whose name is a known membrane stain (else channel 1, or the
 * nuclear channel again for single-channel images). Explicit `--nuclear-channels`/`--membrane-channels`
 * always win; the choice is written to the NPZ sidecar so it is visible.
 */
export function defaultChannels(names: readonly string[]): { nuclear: number[]; membrane: number[] } {
  const lower = names.map((n) => n.trim().toLowerCase());
  const nuc = lower.findIndex((n) => NUCLEAR.includes(n));
  const nuclear = [nuc >= 0 ? nuc : 0];
  const membrane = lower.map((n, i) => (MEMBRANE.includes(n) && i !== nuclear[0] ? i : -1)).filter((i) => i >= 0);
  if (membrane.length === 0) membrane.push(names.length > 1 ? (nuclear[0] === 1 ? 0 : 1) : nuclear[0]);
  return { nuclear, membrane };
}
