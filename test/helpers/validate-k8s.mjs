// Validates Kubernetes objects (a JSON array on stdin) against the schemas bundled in kubernetes-models,
// @kubernetes-models/keda and @kubernetes-models/prometheus-operator (ESM-only packages, hence a
// separate Node process rather than an import from jest). Prints a JSON array: { kind, name, error? }.
import { Deployment } from 'kubernetes-models/apps/v1';
import { ConfigMap, Namespace, ServiceAccount } from 'kubernetes-models/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';

const models = {
  'apps/v1/Deployment': Deployment, 'v1/ConfigMap': ConfigMap, 'v1/Namespace': Namespace, 'v1/ServiceAccount': ServiceAccount,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget, 'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'keda.sh/v1alpha1/TriggerAuthentication': TriggerAuthentication, 'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
};
let input = '';
for await (const chunk of process.stdin) input += chunk;
const results = JSON.parse(input).map((o) => {
  const Model = models[`${o.apiVersion}/${o.kind}`];
  const out = { kind: o.kind, name: o.metadata?.name };
  if (!Model) return { ...out, error: `no bundled schema for ${o.apiVersion} ${o.kind}` };
  try {
    new Model(o).validate();
    return out;
  } catch (e) {
    return { ...out, error: e.message };
  }
});
process.stdout.write(JSON.stringify(results));
