/** An analysis helper's entry (analysisHelper.ts): started by analysisPool.ts as a module worker. */
import { createAnalysisHelper, type AnalysisHelperApi } from './analysisHelper.ts';
import { serve } from './rpc.ts';

serve<AnalysisHelperApi>(self as unknown as Parameters<typeof serve>[0], createAnalysisHelper());
