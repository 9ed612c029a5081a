// The shapes of the REST API (docs/api) that the editor uses, by the names the editor's
// code knows them by. Each is an alias of a type generated from the server's OpenAPI
// document (schema.d.ts, written by `make api-types` from openapi.json): none is written
// by hand but the node catalog's, which the API gives as open JSON (./document.ts).
import type { components, operations } from './schema'
import type { WorkflowDocument } from './document'

export type { Catalog, EdgeDef, JsonSchema, JsonValue, NodeDef, NodeType, OnError, RetryPolicy, WorkflowDocument, WorkflowUi } from './document'

type Schemas = components['schemas']

/** A workflow as lists show it: without its document, with its latest execution. */
export type WorkflowSummary = Schemas['WorkflowListItem']
/** A stored workflow, with its document as the editor holds it. */
export type StoredWorkflow = Omit<Schemas['WorkflowPublic'], 'document'> & { document: WorkflowDocument }
export type WorkflowPage = Schemas['WorkflowPage']
export type LastExecution = Schemas['LastExecutionPublic']
export type VersionSummary = Schemas['VersionSummary']
export type Problem = Schemas['ProblemPublic']
export type ValidationReport = Schemas['ValidationReport']

export type User = Schemas['UserPublic']
export type AuthStatus = Schemas['AuthStatus']
/** owner, admin, editor or viewer (docs/guide/team.md). */
export type Role = Schemas['Role']
/** Who is calling: GET /api/v1/auth/me. */
export type Me = Schemas['Me']
/** A member of the team, as admins see them (GET /api/v1/users). */
export type Member = Schemas['MemberPublic']
export type Invite = Schemas['InvitePublic']
/** A new invite with its one-time token and link: in this answer only. */
export type InviteCreated = Schemas['InviteCreated']
/** What an invite link offers the person who opened it. */
export type InviteInfo = Schemas['InviteInfo']
export type ApiKey = Schemas['ApiKeyPublic']
/** A new API key with its secret: in this answer only. */
export type ApiKeyCreated = Schemas['ApiKeyCreated']
/** The member who saved a version or started an execution. */
export type UserRef = Schemas['UserRef']

/** A stored file (POST /api/v1/files); `value` is its media value. */
export type FileInfo = Schemas['FilePublic']
/** GET /api/v1/nodes/trigger.schedule/preview */
export type SchedulePreview = Schemas['SchedulePreview']

export type ErrorInfo = Schemas['ErrorPublic']
export type ExecutionStatus = Schemas['ExecutionStatus']
export type NodeResult = Schemas['NodeRunPublic']
/** Why a node was cancelled (docs/architecture/executor.md#why-a-node-was-cancelled). */
export type CancelReason = Schemas['CancelReason']
/** Who or what started an execution. */
export type ExecutionMode = Schemas['ExecutionMode']
/** Counted resources a node used: LLM tokens. */
export type Usage = NonNullable<NodeResult['usage']>
export type ExecutionSummary = Schemas['ExecutionSummaryPublic']
export type Execution = Schemas['ExecutionPublic']
export type ExecutionPage = Schemas['ExecutionPage']
/** The filters and paging of GET /api/v1/executions. */
export type ExecutionQuery = NonNullable<operations['list_executions_api_v1_executions_get']['parameters']['query']>
export type RunAccepted = Schemas['RunAccepted']
export type RunRequest = Schemas['RunRequest']
/** Run from node: `start_at` and everything downstream run again, the rest is reused. */
export type RunFrom = Required<Pick<Schemas['RunRequest'], 'from_execution' | 'start_at'>>
/** One event of an execution's stream (docs/api/execution.md#event-types), told apart by `type`. */
export type RunEvent = Schemas['ExecutionEvent']
/** A wait (core.wait) of an execution: what it waits for, how far it is, and whether the
 * member asking may decide it (docs/reference/waits.md#the-api). */
export type Wait = Schemas['WaitPublic']
/** An approval's decision: approve or reject, the form's answer, a comment. */
export type WaitDecision = Schemas['WaitDecisionRequest']
export type WaitDecided = Schemas['WaitDecided']

export type CredentialSummary = Schemas['CredentialPublic']
export type CredentialKind = Schemas['CredentialKind']
export type McpTool = Schemas['McpToolPublic']
export type ModelLink = Schemas['AIModelLink']
export type CredentialLimits = Schemas['AICredentialLimits']
/** The runtime settings of GET/PUT /api/v1/settings. */
export type RuntimeSettings = Schemas['SettingsPublic']
export type SettingsUpdate = Schemas['SettingsUpdate']
export type Variable = Schemas['VariablePublic']
