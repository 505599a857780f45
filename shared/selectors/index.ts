export { SelectorError } from './error.ts';
export {
  escapeFieldValue,
  type FieldOperator,
  type FieldRequirement,
  type FieldSelector,
  parseFieldSelector,
  unknownField,
  validateFieldSelector,
} from './field.ts';
export {
  type LabelOperator,
  type LabelRequirement,
  type LabelSelector,
  type Labels,
  parseLabelSelector,
} from './label.ts';
