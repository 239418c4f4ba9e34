import { GraphQLDateTime, GraphQLJSONObject } from "graphql-scalars";

/** PRODUCT.md names the scalars DateTime and JSONObject. */
export const DateTimeScalar = GraphQLDateTime;
export const JSONObjectScalar = GraphQLJSONObject;
