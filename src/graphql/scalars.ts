import { GraphQLDateTime, GraphQLJSONObject } from "graphql-scalars";

/** The API contract names the scalars DateTime and JSONObject. */
export const DateTimeScalar = GraphQLDateTime;
export const JSONObjectScalar = GraphQLJSONObject;
