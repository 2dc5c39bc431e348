// What an operation asks for, measured without executing it: its depth, aliases, root fields,
// fields and cost, with fragments expanded — each fragment measured once (memoised), so a
// "fragment bomb" (fragments spreading the next one many times) costs linear work to measure, and
// a fragment cycle is found instead of followed. With a schema, fields are known by their
// coordinate (`Type.field`) and list fields are known to be lists.
import {
  Kind,
  getNamedType,
  getNullableType,
  isCompositeType,
  isListType,
  isObjectType,
  isInterfaceType,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';

export type OperationType = 'query' | 'mutation' | 'subscription';

/**
 * The deepest the walk goes (selection sets, inline fragments and fragments expanded): a chain of
 * fragments each spreading the next is shallow as text and deep as an operation, and the walk
 * recurses once per level.
 */
const MAX_LEVELS = 1000;

/** Per-field cost settings (complexity): see docs/graphql.md. */
export interface CostModel {
  /** A field with a selection set (an object). */
  readonly objectCost: number;
  /** A leaf field (a scalar or enum). */
  readonly scalarCost: number;
  /** Arguments whose value is a list field's size (first, last, limit…). */
  readonly listArguments: readonly string[];
  /** A list field's size when no list argument gives it (known as a list from the schema or `fields`). */
  readonly defaultListSize: number;
  /** Per field, by `Type.field` or by bare field name: its own cost, and whether it is a list (with its size). */
  readonly fields: ReadonlyMap<string, { cost?: number | undefined; listSize?: number | undefined }>;
}

export interface Analysis {
  readonly type: OperationType;
  readonly name: string | undefined;
  readonly depth: number;
  readonly aliases: number;
  readonly rootFields: number;
  readonly fields: number;
  readonly cost: number;
  /** It selects `__schema` or `__type`. */
  readonly introspection: boolean;
  /** The root fields' names (for routing by `rootFields`), in document order, without duplicates. */
  readonly rootFieldNames: readonly string[];
  /** A list size came from a variable: the analysis holds for these variables only. */
  readonly usesVariables: boolean;
}

export type AnalysisResult = { ok: true; analysis: Analysis } | { ok: false; message: string };

interface Stats {
  depth: number;
  aliases: number;
  fields: number;
  cost: number;
  rootFields: number;
  introspection: boolean;
}

/** The operation `operationName` picks from `doc` (the only one when no name is given). */
export function pickOperation(doc: DocumentNode, operationName: string | undefined): OperationDefinitionNode | string {
  const ops = doc.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (operationName !== undefined) {
    // Two of the same name are invalid (GraphQL's UniqueOperationNames); an executor that does
    // not validate runs the last, not the one checked here.
    const named = ops.filter((o) => o.name?.value === operationName);
    if (named.length > 1) return `the document defines ${named.length} operations named "${operationName}"`;
    return named[0] ?? `the document defines no operation named "${operationName}"`;
  }
  if (ops.length === 1) return ops[0]!;
  return ops.length === 0 ? 'the document defines no operation' : 'the document defines several operations: operationName must name one';
}

export function analyse(
  doc: DocumentNode,
  operationName: string | undefined,
  variables: Readonly<Record<string, unknown>> | undefined,
  model: CostModel,
  schema?: GraphQLSchema,
): AnalysisResult {
  const op = pickOperation(doc, operationName);
  if (typeof op === 'string') return { ok: false, message: op };
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of doc.definitions) {
    if (d.kind !== Kind.FRAGMENT_DEFINITION) continue;
    // As for operations (UniqueFragmentNames): executors differ in which one a spread takes.
    if (fragments.has(d.name.value)) return { ok: false, message: `the fragment "${d.name.value}" is defined twice` };
    fragments.set(d.name.value, d);
  }
  // A variable the client leaves out takes its default (`$n: Int = 1000`): the service runs with it.
  const defaults = new Map<string, ValueNode>();
  for (const d of op.variableDefinitions ?? []) if (d.defaultValue !== undefined) defaults.set(d.variable.name.value, d.defaultValue);
  const walker = new Walker(fragments, variables ?? {}, defaults, model, schema);
  try {
    const root = schema ? (schema.getRootType(op.operation) ?? undefined) : undefined;
    const stats = walker.selectionSet(op.selectionSet, root ?? undefined, true);
    return {
      ok: true,
      analysis: {
        type: op.operation,
        name: op.name?.value,
        depth: stats.depth,
        aliases: stats.aliases,
        rootFields: stats.rootFields,
        fields: stats.fields,
        cost: stats.cost,
        introspection: stats.introspection,
        rootFieldNames: [...walker.rootNames],
        usesVariables: walker.usedVariables,
      },
    };
  } catch (err) {
    if (err instanceof AnalysisError) return { ok: false, message: err.message };
    throw err;
  }
}

class AnalysisError extends Error {}

class Walker {
  private readonly done = new Map<string, Stats>();
  private readonly visiting = new Set<string>();
  private level = 0;
  readonly rootNames = new Set<string>();
  usedVariables = false;

  constructor(
    private readonly fragments: ReadonlyMap<string, FragmentDefinitionNode>,
    private readonly variables: Readonly<Record<string, unknown>>,
    private readonly defaults: ReadonlyMap<string, ValueNode>,
    private readonly model: CostModel,
    private readonly schema: GraphQLSchema | undefined,
  ) {}

  selectionSet(set: SelectionSetNode, parent: GraphQLCompositeType | undefined, atRoot: boolean): Stats {
    const out: Stats = { depth: 0, aliases: 0, fields: 0, cost: 0, rootFields: 0, introspection: false };
    if (++this.level > MAX_LEVELS)
      throw new AnalysisError(`the operation nests selections deeper than ${MAX_LEVELS} levels (fragments expanded)`);
    for (const sel of set.selections) {
      let s: Stats;
      if (sel.kind === Kind.FIELD) {
        s = this.field(sel, parent);
        s.rootFields = 1;
        if (atRoot) this.rootNames.add(sel.name.value);
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const cond = sel.typeCondition ? this.type(sel.typeCondition.name.value) : parent;
        s = this.selectionSet(sel.selectionSet, cond, atRoot);
      } else s = this.spread(sel.name.value, atRoot);
      out.depth = Math.max(out.depth, s.depth);
      out.aliases += s.aliases;
      out.fields += s.fields;
      out.cost += s.cost;
      out.rootFields += s.rootFields;
      out.introspection ||= s.introspection;
    }
    this.level--;
    return out;
  }

  private spread(name: string, atRoot: boolean): Stats {
    const known = this.done.get(name);
    // Root names collected through a memoised fragment are collected on its first visit; a
    // fragment spread at the root and deeper too is rare enough to walk again for its names.
    if (known !== undefined && !atRoot) return known;
    const frag = this.fragments.get(name);
    if (frag === undefined) throw new AnalysisError(`the fragment "${name}" is not defined`);
    if (this.visiting.has(name)) throw new AnalysisError(`the fragment "${name}" spreads itself (a cycle)`);
    this.visiting.add(name);
    const s = this.selectionSet(frag.selectionSet, this.type(frag.typeCondition.name.value), atRoot);
    this.visiting.delete(name);
    this.done.set(name, s);
    return s;
  }

  private field(node: FieldNode, parent: GraphQLCompositeType | undefined): Stats {
    const name = node.name.value;
    const introspection = name === '__schema' || name === '__type';
    let childType: GraphQLCompositeType | undefined;
    let schemaList = false;
    let coordinate: string | undefined;
    if (parent !== undefined && (isObjectType(parent) || isInterfaceType(parent))) {
      const def = parent.getFields()[name];
      coordinate = `${parent.name}.${name}`;
      if (def !== undefined) {
        schemaList = isListType(getNullableType(def.type));
        const named = getNamedType(def.type);
        if (isCompositeType(named)) childType = named;
      }
    }
    let fromSchema: SchemaCost | undefined;
    let fieldDef: GraphQLField<unknown, unknown> | undefined;
    if (parent !== undefined && (isObjectType(parent) || isInterfaceType(parent))) {
      fieldDef = parent.getFields()[name];
      if (fieldDef !== undefined) fromSchema = schemaCost(fieldDef);
    }
    const conf = (coordinate !== undefined ? this.model.fields.get(coordinate) : undefined) ?? this.model.fields.get(name);
    const children = node.selectionSet ? this.selectionSet(node.selectionSet, childType, false) : undefined;
    const own = conf?.cost ?? fromSchema?.weight ?? (children ? this.model.objectCost : this.model.scalarCost);
    const size = this.listSize(node, conf?.listSize ?? fromSchema?.assumedSize, schemaList, fromSchema?.slicingArguments, fieldDef);
    const each = own + (children?.cost ?? 0);
    return {
      depth: 1 + (children?.depth ?? 0),
      aliases: (node.alias ? 1 : 0) + (children?.aliases ?? 0),
      fields: 1 + (children?.fields ?? 0),
      // A size past any number (a 400-digit `first`) is Infinity, and 0 × Infinity is NaN, which
      // no limit is over: nothing times anything is nothing.
      cost: size === 0 || each === 0 ? 0 : size * each,
      rootFields: 0,
      introspection: introspection || (children?.introspection ?? false),
    };
  }

  /** How many items a field returns, as far as the gateway can tell: a list argument, else what is known of the field. */
  /**
   * How many items a field returns, as far as the gateway can tell: the largest of its list
   * arguments (`first: 1, last: 100000` is 100000), given or defaulted in the schema
   * (`first: Int = 50`); else what is configured or known of the field.
   */
  private listSize(
    node: FieldNode,
    configured: number | undefined,
    schemaList: boolean,
    slicing: readonly string[] | undefined,
    def: GraphQLField<unknown, unknown> | undefined,
  ): number {
    const names = slicing ?? this.model.listArguments;
    let size: number | undefined;
    const given = new Set<string>();
    for (const arg of node.arguments ?? []) {
      if (!names.includes(arg.name.value)) continue;
      given.add(arg.name.value);
      const n = this.intValue(arg.value);
      if (n !== undefined) size = Math.max(size ?? 0, n);
    }
    for (const arg of def?.args ?? []) {
      if (given.has(arg.name) || !names.includes(arg.name)) continue;
      const d = arg.defaultValue;
      if (typeof d === 'number' && Number.isFinite(d)) size = Math.max(size ?? 0, Math.trunc(d));
    }
    if (size !== undefined) return Math.max(0, size);
    if (configured !== undefined) return configured;
    return schemaList ? this.model.defaultListSize : 1;
  }

  private intValue(v: ValueNode): number | undefined {
    if (v.kind === Kind.INT) return Number(v.value);
    if (v.kind === Kind.VARIABLE) {
      const name = v.name.value;
      this.usedVariables = true;
      if (!Object.hasOwn(this.variables, name)) {
        const d = this.defaults.get(name);
        return d === undefined ? undefined : this.intValue(d);
      }
      const x = this.variables[name];
      return typeof x === 'number' && Number.isFinite(x) ? Math.trunc(x) : undefined;
    }
    return undefined;
  }

  private type(name: string): GraphQLCompositeType | undefined {
    if (this.schema === undefined) return undefined;
    const t = this.schema.getType(name);
    return t !== undefined && isCompositeType(t) ? t : undefined;
  }
}

/**
 * What the schema itself says of a field's cost, in the directives of the IBM GraphQL Cost
 * Directives spec that Apollo's demand control also reads: `@cost(weight: Int)` on a field
 * definition, and `@listSize(assumedSize: Int, slicingArguments: [String!])`. The SDL declares
 * them (`directive @cost(weight: Int!) on FIELD_DEFINITION | …`). Read once per field definition.
 */
interface SchemaCost {
  weight?: number | undefined;
  assumedSize?: number | undefined;
  slicingArguments?: readonly string[] | undefined;
}

const costOfField = new WeakMap<GraphQLField<unknown, unknown>, SchemaCost | null>();

function schemaCost(def: GraphQLField<unknown, unknown>): SchemaCost | undefined {
  let c = costOfField.get(def);
  if (c === undefined) {
    c = null;
    for (const d of def.astNode?.directives ?? []) {
      const args = new Map((d.arguments ?? []).map((a) => [a.name.value, a.value]));
      if (d.name.value === 'cost') {
        const w = args.get('weight');
        const weight = w === undefined ? undefined : numberOf(w);
        if (weight !== undefined) (c ??= {}).weight = weight;
      } else if (d.name.value === 'listSize') {
        const size = args.get('assumedSize');
        const assumed = size === undefined ? undefined : numberOf(size);
        if (assumed !== undefined) (c ??= {}).assumedSize = Math.max(0, Math.trunc(assumed));
        const slicing = args.get('slicingArguments');
        if (slicing?.kind === Kind.LIST)
          (c ??= {}).slicingArguments = slicing.values.flatMap((v) => (v.kind === Kind.STRING ? [v.value] : []));
      }
    }
    costOfField.set(def, c);
  }
  return c ?? undefined;
}

function numberOf(v: ValueNode): number | undefined {
  if (v.kind === Kind.INT || v.kind === Kind.FLOAT) return Math.max(0, Number(v.value));
  // The IBM spec writes weights as strings ("5.0").
  if (v.kind === Kind.STRING && v.value.trim() !== '' && Number.isFinite(Number(v.value))) return Math.max(0, Number(v.value));
  return undefined;
}
