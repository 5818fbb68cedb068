import { z } from 'zod';

/**
 * Deep-watershed parameters for one compartment, as Mesmer names them (deepcell-toolbox
 * `deepcell_toolbox.deep_watershed`, the post-processing of `deepcell.applications.Mesmer`; van Valen
 * lab, https://github.com/vanvalenlab/deepcell-toolbox).
 */
export const DeepWatershedParams = z.object({
  /** h for h-maxima on the (smoothed) inner-distance map. */
  maximaThreshold: z.number().nonnegative(),
  /** Gaussian σ applied to the inner-distance map before h-maxima; 0 = none. */
  maximaSmooth: z.number().nonnegative(),
  /** Pixels with (smoothed) interior probability above this are foreground. */
  interiorThreshold: z.number(),
  /** Gaussian σ applied to the interior map; 0 = none. */
  interiorSmooth: z.number().nonnegative(),
  /** Objects with fewer pixels are removed. */
  smallObjectsThreshold: z.number().int().nonnegative(),
  /** Holes (background components enclosed by one label) with fewer pixels are filled. */
  fillHolesThreshold: z.number().int().nonnegative(),
  /** Radius of the disk footprint for h-maxima. */
  radius: z.number().int().nonnegative(),
});
export type DeepWatershedParams = z.infer<typeof DeepWatershedParams>;

/** Mesmer's defaults (`Mesmer.predict`'s `postprocess_kwargs_whole_cell` / `_nuclear`, deepcell 0.12). */
export const MESMER_WHOLE_CELL_DEFAULTS: DeepWatershedParams = {
  maximaThreshold: 0.075, maximaSmooth: 0, interiorThreshold: 0.2, interiorSmooth: 2,
  smallObjectsThreshold: 15, fillHolesThreshold: 15, radius: 2,
};
export const MESMER_NUCLEAR_DEFAULTS: DeepWatershedParams = { ...MESMER_WHOLE_CELL_DEFAULTS, maximaThreshold: 0.1 };

export const PostprocessDefaults = z.object({
  wholeCell: DeepWatershedParams,
  nuclear: DeepWatershedParams,
});
export type PostprocessDefaults = z.infer<typeof PostprocessDefaults>;

export type Compartment = 'whole-cell' | 'nuclear';
export const CompartmentSelection = z.enum(['both', 'whole-cell', 'nuclear']);
export type CompartmentSelection = z.infer<typeof CompartmentSelection>;
