import DataLoader from "dataloader";
import { DataSource, In } from "typeorm";
import { EventPrincipalEntity } from "./event-principal.entity";

/** Presenter and organizer lists of many events in one statement. Keys are event ids already tenant-checked. */
export function principalsByEventLoader(dataSource: DataSource) {
  return new DataLoader<string, EventPrincipalEntity[]>(async (eventIds) => {
    const rows = await dataSource.getRepository(EventPrincipalEntity).find({
      where: { eventId: In([...eventIds]) },
      // Principals added together share created_at: the list order must not depend on random ids.
      order: { createdAt: "ASC", role: "ASC", userExternalId: "ASC", email: "ASC" },
    });
    const byEvent = new Map<string, EventPrincipalEntity[]>();
    for (const row of rows) byEvent.set(row.eventId, [...(byEvent.get(row.eventId) ?? []), row]);
    return eventIds.map((id) => byEvent.get(id) ?? []);
  });
}
